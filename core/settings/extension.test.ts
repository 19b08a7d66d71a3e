// Every setting of the extension (resolveOptions, envPort in extension/types.ts) and of the worker
// CLI's environment fallbacks (parseWorkerArgs in extension/cli.ts): unset gives the default, a
// good value is parsed, a bad one fails naming the variable, flag or option. They live here, next
// to the readers, because what they pin down is that all of these go through the same rules.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseWorkerArgs, UsageError } from '../../extension/cli.ts';
import { envPort, resolveOptions, type ExtensionOptions, type ResolvedOptions } from '../../extension/types.ts';
import { SettingError } from './env.ts';
import { assertSettingError } from './fixtures/assert.ts';

interface EnvRow {
  variable: string;
  field: keyof ResolvedOptions;
  fallback: unknown;
  good: [raw: string, parsed: unknown][];
  bad: string[];
}

const ENV_ROWS: EnvRow[] = [
  { variable: 'LAMBDA_DISPATCH_DeadlineMarginMs', field: 'deadlineMarginMs', fallback: undefined, good: [['1500', 1500], ['0', 0]], bad: ['-1', 'soon', '1e3'] },
  { variable: 'LAMBDA_DISPATCH_ENABLE_COMPRESSION', field: 'compression', fallback: true, good: [['false', false], ['0', false], ['YES', true]], bad: ['gzip'] },
  { variable: 'LAMBDA_DISPATCH_INIT_TIMEOUT', field: 'initTimeoutMs', fallback: 9500, good: [['200', 200], ['2.5', 2.5]], bad: ['-200', '9s'] },
  { variable: 'LAMBDA_DISPATCH_ASYNC_INIT', field: 'asyncInit', fallback: false, good: [['true', true], ['1', true], ['no', false]], bad: ['maybe'] },
  { variable: 'LAMBDA_DISPATCH_ASYNC_INIT_TIMEOUT', field: 'asyncInitTimeoutMs', fallback: 60_000, good: [['120000', 120_000]], bad: ['-1', 'long'] },
  // 0 has always meant the default here.
  { variable: 'LAMBDA_DISPATCH_KEEPALIVE_IDLE_MS', field: 'keepAliveIdleMs', fallback: 4000, good: [['1000', 1000], ['0', 4000]], bad: ['-1', 'x'] },
  { variable: 'LAMBDA_DISPATCH_RECONNECT_MS', field: 'reconnectMs', fallback: 2000, good: [['0', 0], ['500', 500]], bad: ['-1', 'x'] },
  { variable: 'LAMBDA_DISPATCH_PassThroughPath', field: 'passThroughPath', fallback: '/events', good: [['/lambda/events', '/lambda/events'], [' /e ', '/e']], bad: ['events', '/a b', '/e?x=1', '/e#x'] },
  // Trailing slashes do not change the prefix; `/` takes nothing off.
  { variable: 'LAMBDA_DISPATCH_RemoveBasePath', field: 'removeBasePath', fallback: undefined, good: [['/prod', '/prod'], ['/prod/', '/prod'], ['/v1/api', '/v1/api'], ['/', undefined]], bad: ['prod', '/prod?x', 'https://x/prod'] },
  { variable: 'LAMBDA_DISPATCH_AccessLogSample', field: 'accessLogSample', fallback: 0, good: [['1', 1], ['0.25', 0.25]], bad: ['-0.5', '2', 'some'] },
  { variable: 'LAMBDA_DISPATCH_ReadinessProtocol', field: 'readinessProtocol', fallback: 'http', good: [['tcp', 'tcp'], ['HTTP', 'http']], bad: ['udp', 'https'] },
  {
    variable: 'LAMBDA_DISPATCH_HealthyStatus', field: 'healthyStatus', fallback: [[200, 200]],
    good: [['200-399,404', [[200, 399], [404, 404]]], ['204', [[204, 204]]], [' 200 , 301 - 308 ,', [[200, 200], [301, 308]]]],
    bad: ['2xx', '99', '600', '399-200', '200-', ',', '200;404', '100-499,abc'],
  },
];

describe('extension settings (resolveOptions)', () => {
  test('defaults when nothing is set; the result is frozen', () => {
    const o = resolveOptions({}, {});
    for (const row of ENV_ROWS) assert.deepEqual(o[row.field], row.fallback, row.variable);
    assert.deepEqual(
      { ...o, log: undefined, logger: undefined },
      {
        deadlineMarginMs: undefined,
        hardStopMarginMs: 250,
        healthTimeoutMs: 10_000,
        healthIntervalMs: 10,
        connectTimeoutMs: 5000,
        highWaterMark: 256 * 1024,
        maxChunkBytes: 64 * 1024,
        inlineBodyBytes: 64 * 1024,
        compression: true,
        initTimeoutMs: 9500,
        asyncInit: false,
        asyncInitTimeoutMs: 60_000,
        keepAliveIdleMs: 4000,
        reconnectMs: 2000,
        passThroughPath: '/events',
        removeBasePath: undefined,
        readinessProtocol: 'http',
        healthyStatus: [[200, 200]],
        log: undefined,
        logger: undefined,
        accessLogSample: 0,
      },
    );
    assert.ok(Object.isFrozen(o));
  });

  for (const row of ENV_ROWS) {
    test(row.variable, () => {
      for (const [raw, parsed] of row.good) assert.deepEqual(resolveOptions({}, { [row.variable]: raw })[row.field], parsed, `${row.variable}=${JSON.stringify(raw)}`);
      assert.deepEqual(resolveOptions({}, { [row.variable]: ' ' })[row.field], row.fallback, 'blank is unset');
      for (const raw of row.bad) assertSettingError(() => resolveOptions({}, { [row.variable]: raw }), row.variable);
    });
  }

  test('messages the docs and older tests quote', () => {
    assertSettingError(() => resolveOptions({}, { LAMBDA_DISPATCH_ASYNC_INIT: 'maybe' }), 'LAMBDA_DISPATCH_ASYNC_INIT', /LAMBDA_DISPATCH_ASYNC_INIT must be true or false/);
    assertSettingError(() => resolveOptions({}, { LAMBDA_DISPATCH_ASYNC_INIT_TIMEOUT: 'x' }), 'LAMBDA_DISPATCH_ASYNC_INIT_TIMEOUT', /must be a non-negative number of milliseconds, got "x"/);
    assertSettingError(() => resolveOptions({}, { LAMBDA_DISPATCH_PassThroughPath: 'events' }), 'LAMBDA_DISPATCH_PassThroughPath', /^LAMBDA_DISPATCH_PassThroughPath must be a path starting with \/ \(no spaces, query or fragment\), got "events"$/);
    assertSettingError(() => resolveOptions({}, { LAMBDA_DISPATCH_ReadinessProtocol: 'udp' }), 'LAMBDA_DISPATCH_ReadinessProtocol', /^LAMBDA_DISPATCH_ReadinessProtocol must be one of http, tcp, got "udp"$/);
    assertSettingError(() => resolveOptions({}, { LAMBDA_DISPATCH_HealthyStatus: '200-399,4xx' }), 'LAMBDA_DISPATCH_HealthyStatus', /^LAMBDA_DISPATCH_HealthyStatus must be a comma-separated list of HTTP statuses \(100\.\.599\) and ranges, such as 200-399,404, got "4xx" in "200-399,4xx"$/);
    // Callers that caught the old RangeError still do.
    assert.throws(() => resolveOptions({}, { LAMBDA_DISPATCH_RECONNECT_MS: 'x' }), RangeError);
  });

  test('an option in code wins over its variable', () => {
    const env = { LAMBDA_DISPATCH_ENABLE_COMPRESSION: 'false', LAMBDA_DISPATCH_INIT_TIMEOUT: '200', LAMBDA_DISPATCH_DeadlineMarginMs: '100', LAMBDA_DISPATCH_RECONNECT_MS: '0' };
    const o = resolveOptions({ compression: true, initTimeoutMs: 1000, deadlineMarginMs: 0, reconnectMs: 50 }, env);
    assert.equal(o.compression, true);
    assert.equal(o.initTimeoutMs, 1000);
    assert.equal(o.deadlineMarginMs, 0);
    assert.equal(o.reconnectMs, 50);
  });

  test('a set variable is checked even when an option overrides it', () => {
    assertSettingError(() => resolveOptions({ compression: true }, { LAMBDA_DISPATCH_ENABLE_COMPRESSION: 'gzip' }), 'LAMBDA_DISPATCH_ENABLE_COMPRESSION');
  });

  const OPTION_ROWS: [keyof ExtensionOptions, good: unknown, bad: unknown[], expected: RegExp][] = [
    ['deadlineMarginMs', 0, [-1, Number.NaN, '5'], /non-negative number/],
    ['hardStopMarginMs', 0, [-1, Infinity], /non-negative number/],
    ['healthTimeoutMs', 0, [-1], /non-negative number/],
    ['healthIntervalMs', 1, [0, -1], /positive number/],
    ['connectTimeoutMs', 1, [0], /positive number/],
    ['highWaterMark', 1024, [0], /positive number/],
    ['maxChunkBytes', 1024, [0], /positive number/],
    ['inlineBodyBytes', 0, [-1], /non-negative number/],
    ['compression', false, ['false', 0], /true or false/],
    ['initTimeoutMs', 0, [-1], /non-negative number/],
    ['asyncInit', true, ['yes'], /true or false/],
    ['asyncInitTimeoutMs', 0, [-1], /non-negative number/],
    ['keepAliveIdleMs', 1, [0], /positive number/],
    ['reconnectMs', 0, [-1], /non-negative number/],
  ];
  test('options of the pass-through path, base path and readiness: code wins, values checked', () => {
    const env = { LAMBDA_DISPATCH_PassThroughPath: '/env', LAMBDA_DISPATCH_RemoveBasePath: '/stage', LAMBDA_DISPATCH_ReadinessProtocol: 'tcp', LAMBDA_DISPATCH_HealthyStatus: '200-499' };
    const fromEnv = resolveOptions({}, env);
    assert.deepEqual([fromEnv.passThroughPath, fromEnv.removeBasePath, fromEnv.readinessProtocol, fromEnv.healthyStatus], ['/env', '/stage', 'tcp', [[200, 499]]]);
    const o = resolveOptions({ passThroughPath: '/code', removeBasePath: '/prod/', readinessProtocol: 'http', healthyStatus: '200,204' }, env);
    assert.deepEqual([o.passThroughPath, o.removeBasePath, o.readinessProtocol, o.healthyStatus], ['/code', '/prod', 'http', [[200, 200], [204, 204]]]);
    assert.deepEqual(resolveOptions({ healthyStatus: [200, 404] }, {}).healthyStatus, [[200, 200], [404, 404]]);
    assert.equal(resolveOptions({ readinessProtocol: 'TCP' as 'tcp' }, {}).readinessProtocol, 'tcp');
    const rows: [keyof ExtensionOptions, unknown[], RegExp][] = [
      ['passThroughPath', ['events', 42, '/a b'], /a path starting with \//],
      ['removeBasePath', ['prod', null], /a path starting with \//],
      ['readinessProtocol', ['udp', 1], /one of http, tcp/],
      ['healthyStatus', ['2xx', [], [200, 99], [200.5], 200, '499-400'], /list of HTTP statuses/],
    ];
    for (const [name, bad, expected] of rows) {
      for (const v of bad) assertSettingError(() => resolveOptions({ [name]: v } as ExtensionOptions, {}), `ExtensionOptions.${name}`, expected);
    }
  });

  for (const [name, good, bad, expected] of OPTION_ROWS) {
    test(`option ${name}`, () => {
      assert.equal(resolveOptions({ [name]: good }, {})[name as keyof ResolvedOptions], good);
      for (const v of bad) assertSettingError(() => resolveOptions({ [name]: v } as ExtensionOptions, {}), `ExtensionOptions.${name}`, expected);
    });
  }
});

describe('extension settings (envPort)', () => {
  test('LAMBDA_DISPATCH_PORT', () => {
    assert.equal(envPort({}), 3001);
    assert.equal(envPort({ LAMBDA_DISPATCH_PORT: '8080' }), 8080);
    for (const bad of ['0', '65536', 'http', '80.5']) assertSettingError(() => envPort({ LAMBDA_DISPATCH_PORT: bad }), 'LAMBDA_DISPATCH_PORT', /LAMBDA_DISPATCH_PORT must be a port number/);
  });
});

const SECRET = 'a-worker-secret-of-some-length';
const BASE = { LAMBDA_DISPATCH_WorkerSecret: SECRET, LAMBDA_DISPATCH_RouterUrl: 'ws://r:5003', LAMBDA_DISPATCH_PORT: '3001' };

/** The CLI reports a bad setting as a usage problem, carrying the SettingError as its cause. */
function assertUsage(args: string[], env: Record<string, string>, setting: string, message?: RegExp): void {
  let caught: unknown;
  try {
    parseWorkerArgs(['worker', ...args], env);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UsageError, `expected a UsageError for ${setting}, got ${String(caught)}`);
  assert.ok(caught.cause instanceof SettingError, `cause of ${caught.message}`);
  assertSettingError(() => {
    throw caught.cause;
  }, setting, message);
  assert.equal(caught.message, caught.cause.message);
}

describe('worker CLI settings (parseWorkerArgs)', () => {
  test('defaults', () => {
    const c = parseWorkerArgs(['worker'], BASE);
    assert.deepEqual(c, {
      routerUrl: 'ws://r:5003',
      routerCertSha256: undefined,
      secret: SECRET,
      channels: undefined,
      maxConcurrent: undefined,
      workerId: undefined,
      functionName: undefined,
      graceMs: 20_000,
      app: { port: 3001, healthPath: undefined, command: undefined },
    });
  });

  const ROWS: { variable: string; flag: string | null; pick: (c: ReturnType<typeof parseWorkerArgs>) => unknown; good: [string, unknown][]; bad: string[] }[] = [
    { variable: 'LAMBDA_DISPATCH_RouterUrl', flag: '--router', pick: (c) => c.routerUrl, good: [['ws://router.example', 'ws://router.example']], bad: ['http://r', 'r:5003', 'ws://'] },
    { variable: 'LAMBDA_DISPATCH_MaxConcurrentCount', flag: '--max-concurrent', pick: (c) => c.maxConcurrent, good: [['4', 4]], bad: ['0', 'four', '10001'] },
    { variable: 'LAMBDA_DISPATCH_ChannelCount', flag: '--channels', pick: (c) => c.channels, good: [['12', 12]], bad: ['0', 'x', '1.5'] },
    { variable: 'LAMBDA_DISPATCH_WorkerId', flag: '--worker-id', pick: (c) => c.workerId, good: [[' box-1 ', 'box-1']], bad: [] },
    { variable: 'LAMBDA_DISPATCH_WorkerFunction', flag: '--function', pick: (c) => c.functionName, good: [['images', 'images'], [' beta-2 ', 'beta-2']], bad: ['a b', 'x'.repeat(65), 'é'] },
    { variable: 'LAMBDA_DISPATCH_ShutdownGraceMs', flag: null, pick: (c) => c.graceMs, good: [['5000', 5000], ['0', 0]], bad: ['-1', 'abc', '3600001'] },
    { variable: 'LAMBDA_DISPATCH_PORT', flag: '--port', pick: (c) => ('port' in c.app ? c.app.port : null), good: [['8080', 8080]], bad: ['0', '65536', 'eighty'] },
    { variable: 'LAMBDA_DISPATCH_HEALTH_PATH', flag: '--health-path', pick: (c) => ('port' in c.app ? c.app.healthPath : null), good: [['/ready', '/ready']], bad: ['ready'] },
    { variable: 'LAMBDA_DISPATCH_COMMAND', flag: '--command', pick: (c) => ('port' in c.app ? c.app.command : null), good: [['python app.py', 'python app.py']], bad: [] },
  ];
  for (const row of ROWS) {
    test(row.variable, () => {
      for (const [raw, parsed] of row.good) {
        assert.deepEqual(row.pick(parseWorkerArgs(['worker'], { ...BASE, [row.variable]: raw })), parsed, `${row.variable}=${raw}`);
        if (row.flag) assert.deepEqual(row.pick(parseWorkerArgs(['worker', row.flag, raw], BASE)), parsed, `${row.flag} ${raw}`);
      }
      for (const raw of row.bad) {
        assertUsage([], { ...BASE, [row.variable]: raw }, row.variable);
        if (row.flag) assertUsage([row.flag, raw], BASE, row.flag);
      }
    });
  }

  test('LAMBDA_DISPATCH_RouterCertSha256: required with wss://, refused with ws://', () => {
    const pin = 'c0'.repeat(32);
    const tls = { ...BASE, LAMBDA_DISPATCH_RouterUrl: 'wss://router.example:5003' };
    const colons = Array.from({ length: 32 }, () => 'C0').join(':');
    assert.equal(parseWorkerArgs(['worker'], { ...tls, LAMBDA_DISPATCH_RouterCertSha256: pin }).routerCertSha256, pin);
    assert.equal(parseWorkerArgs(['worker', '--router-cert-sha256', colons], tls).routerCertSha256, pin);
    assert.equal(parseWorkerArgs(['worker', '--router', 'wss://other', '--router-cert-sha256', pin], BASE).routerUrl, 'wss://other');
    assert.throws(() => parseWorkerArgs(['worker'], tls), (err: Error) => err instanceof UsageError && /wss:\/\/ router URL needs the router's certificate pin: --router-cert-sha256/.test(err.message));
    assert.throws(
      () => parseWorkerArgs(['worker', '--router-cert-sha256', pin], BASE),
      (err: Error) => err instanceof UsageError && /LAMBDA_DISPATCH_RouterCertSha256 needs a wss:\/\/ router URL/.test(err.message),
    );
    assertUsage([], { ...tls, LAMBDA_DISPATCH_RouterCertSha256: 'abc' }, 'LAMBDA_DISPATCH_RouterCertSha256', /SHA-256 fingerprint/);
    assertUsage(['--router-cert-sha256', pin.slice(1)], tls, '--router-cert-sha256', /64 hex digits/);
  });

  test('LAMBDA_DISPATCH_WorkerSecret: required, and one the router could accept', () => {
    assert.throws(() => parseWorkerArgs(['worker'], { ...BASE, LAMBDA_DISPATCH_WorkerSecret: '' }), (err: Error) => err instanceof UsageError && /LAMBDA_DISPATCH_WorkerSecret must be set/.test(err.message));
    for (const bad of ['short', ` ${SECRET}`, `${SECRET}\t`, '                    ']) {
      assertUsage([], { ...BASE, LAMBDA_DISPATCH_WorkerSecret: bad }, 'LAMBDA_DISPATCH_WorkerSecret', /at least 16 characters/);
    }
  });

  test('a flag wins over its variable; a set variable is still checked', () => {
    assert.equal(parseWorkerArgs(['worker', '--max-concurrent', '2'], { ...BASE, LAMBDA_DISPATCH_MaxConcurrentCount: '8' }).maxConcurrent, 2);
    assert.equal(parseWorkerArgs(['worker', '--router', 'ws://other'], BASE).routerUrl, 'ws://other');
    assertUsage(['--port', '8080'], { ...BASE, LAMBDA_DISPATCH_PORT: 'eighty' }, 'LAMBDA_DISPATCH_PORT');
  });

  test('the flag messages the CLI test quotes', () => {
    assertUsage(['--port', 'eighty'], BASE, '--port', /--port must be an integer/);
    assertUsage(['--router', 'http://x'], BASE, '--router', /must be ws:\/\/ or wss:\/\//);
  });
});
