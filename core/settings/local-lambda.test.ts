// Every setting of the local Lambda (infra/local/options.ts), from the environment and from code:
// unset gives the default, a good value is parsed, a bad one is a SettingError naming the variable
// or the LocalLambdaOptions field.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { functionNameOf, localLambdaOptionsFromEnv, validateOptions, type LocalLambdaOptions } from '../../infra/local/options.ts';
import { assertSettingError } from './fixtures/assert.ts';

const defaults = { handlerModule: '/x/demo/function.ts' };

const ROWS: { variable: string; field: keyof LocalLambdaOptions; fallback: unknown; good: [string, unknown][]; bad: string[] }[] = [
  { variable: 'LOCAL_LAMBDA_PORT', field: 'port', fallback: 5051, good: [['0', 0], ['6000', 6000]], bad: ['abc', '-1', '65536'] },
  { variable: 'LAMBDA_DISPATCH_FunctionName', field: 'functionName', fallback: 'lambda-dispatch-demo', good: [['my-fn', 'my-fn'], ['arn:aws:lambda:us-east-1:123456789012:function:my-fn:live', 'my-fn']], bad: [] },
  { variable: 'LOCAL_LAMBDA_HANDLER', field: 'handlerModule', fallback: defaults.handlerModule, good: [[' /h.ts ', '/h.ts']], bad: [] },
  { variable: 'LOCAL_LAMBDA_CONCURRENCY', field: 'concurrency', fallback: 32, good: [['8', 8]], bad: ['0', '-1', '10001', 'many'] },
  { variable: 'LOCAL_LAMBDA_TIMEOUT_S', field: 'timeoutS', fallback: 60, good: [['3', 3]], bad: ['0', '901', '1.5'] },
  { variable: 'LOCAL_LAMBDA_MEMORY_MB', field: 'memoryMb', fallback: 512, good: [['1024', 1024]], bad: ['64', '10241', 'lots'] },
  { variable: 'LOCAL_LAMBDA_INIT_MS', field: 'initMs', fallback: 0, good: [['250', 250]], bad: ['-5', '10001', '2.5'] },
];

describe('local Lambda settings', () => {
  test('defaults when nothing is set; the result is frozen', () => {
    const o = localLambdaOptionsFromEnv({}, defaults);
    for (const row of ROWS) assert.deepEqual(o[row.field], row.fallback, row.variable);
    assert.ok(Object.isFrozen(o));
  });

  for (const row of ROWS) {
    test(row.variable, () => {
      for (const [raw, parsed] of row.good) assert.deepEqual(localLambdaOptionsFromEnv({ [row.variable]: raw }, defaults)[row.field], parsed, `${row.variable}=${raw}`);
      assert.deepEqual(localLambdaOptionsFromEnv({ [row.variable]: ' ' }, defaults)[row.field], row.fallback, 'blank is unset');
      for (const raw of row.bad) assertSettingError(() => localLambdaOptionsFromEnv({ [row.variable]: raw }, defaults), row.variable);
    });
  }

  test('functionNameOf: a bare name from a name or an ARN', () => {
    assert.equal(functionNameOf(undefined), 'lambda-dispatch-demo');
    assert.equal(functionNameOf('  '), 'lambda-dispatch-demo');
    assert.equal(functionNameOf('arn:aws:lambda:eu-west-1:1:function:f'), 'f');
  });

  const valid: LocalLambdaOptions = { functionName: 'f', handlerModule: '/h.ts', concurrency: 1, timeoutS: 1, memoryMb: 128, initMs: 0 };
  const OPTION_ROWS: [keyof LocalLambdaOptions, good: unknown, bad: unknown[]][] = [
    ['port', 0, [-1, 65_536, 1.5, '80']],
    ['concurrency', 1, [0, 2.5]],
    ['timeoutS', 900, [0, 901]],
    ['memoryMb', 10_240, [127, 10_241]],
    ['initMs', 0, [-1, 0.5]],
    ['idleReapMs', 0, [-1, Number.NaN]],
    ['functionName', 'g', ['', undefined]],
    ['handlerModule', 'file:///h.mjs', ['', undefined]],
  ];
  for (const [name, good, bad] of OPTION_ROWS) {
    test(`LocalLambdaOptions.${name}`, () => {
      validateOptions({ ...valid, [name]: good });
      for (const v of bad) assertSettingError(() => validateOptions({ ...valid, [name]: v } as LocalLambdaOptions), `LocalLambdaOptions.${name}`);
    });
  }
});
