// The local Lambda driven through the real @aws-sdk/client-lambda, as the router and bench use it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { localLambdaOptionsFromEnv, startLocalLambda } from './lambda-service.ts';
import type { LocalLambda, LocalLambdaOptions } from './lambda-service.ts';
import { chargeFor, emptyLedger, recordInvocation } from './ledger.ts';
import { checkHandler } from './handler-check.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const FN = 'fixture-fn';

interface Harness {
  lambda: LocalLambda;
  client: LambdaClient;
  invoke(payload?: unknown, extra?: { FunctionName?: string; InvocationType?: 'RequestResponse' | 'Event' | 'DryRun' }): Promise<InvokeCommandOutput>;
  close(): Promise<void>;
}

async function harness(opts: Partial<LocalLambdaOptions> & { handlerModule: string }): Promise<Harness> {
  const lambda = await startLocalLambda({ functionName: FN, concurrency: 4, timeoutS: 10, memoryMb: 512, initMs: 0, ...opts });
  const client = new LambdaClient({
    endpoint: lambda.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // A throttle must reach the test, not be retried away by the SDK.
    maxAttempts: 1,
  });
  return {
    lambda,
    client,
    invoke: (payload = {}, extra = {}) =>
      client.send(
        new InvokeCommand({
          FunctionName: FN,
          Payload: typeof payload === 'string' ? new TextEncoder().encode(payload) : new TextEncoder().encode(JSON.stringify(payload)),
          ...extra,
        }),
      ),
    close: async () => {
      client.destroy();
      await lambda.close();
    },
  };
}

function json(out: InvokeCommandOutput): any {
  return JSON.parse(new TextDecoder().decode(out.Payload));
}

const envIdOf = (logStream: string) => logStream.slice(logStream.indexOf(']') + 1);

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('a payload round-trips with Lambda headers, context and environment variables', async () => {
  const h = await harness({ handlerModule: fixture('echo.ts'), env: { FIXTURE_EXTRA: 'yes' }, memoryMb: 256, timeoutS: 7 });
  try {
    const out = await h.invoke({ hello: 'world', n: [1, 2] });
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, undefined);
    assert.equal(out.ExecutedVersion, '$LATEST');
    const body = json(out);
    assert.deepEqual(body.event, { hello: 'world', n: [1, 2] });
    assert.match(body.logStream, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\]env-\d+$/);
    assert.deepEqual(body.env, { functionName: FN, memorySize: '256', version: '$LATEST', region: 'us-east-1', extra: 'yes' });
    assert.equal(body.context.functionName, FN);
    assert.equal(body.context.functionVersion, '$LATEST');
    assert.equal(body.context.memoryLimitInMB, '256');
    assert.equal(body.context.invokedFunctionArn, `arn:aws:lambda:us-east-1:000000000000:function:${FN}`);
    assert.equal(body.context.logStreamName, body.logStream);
    assert.match(body.context.awsRequestId, /^[0-9a-f-]{36}$/);
    assert.ok(body.context.remainingMs > 0 && body.context.remainingMs <= 7000, `remaining ${body.context.remainingMs}`);

    // Empty payload is `{}`; undefined result is `null`; a function ARN names the function too.
    assert.deepEqual(json(await h.invoke('')).event, {});
    assert.equal(new TextDecoder().decode((await h.invoke({ returnUndefined: true })).Payload), 'null');
    const byArn = await h.invoke({ a: 1 }, { FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${FN}` });
    assert.deepEqual(json(byArn).event, { a: 1 });
  } finally {
    await h.close();
  }
});

test('a warm environment is reused; concurrent invocations get separate environments', async () => {
  const h = await harness({ handlerModule: fixture('sleep.ts') });
  try {
    const first = json(await h.invoke({ ms: 1 }));
    const second = json(await h.invoke({ ms: 1 }));
    assert.equal(first.logStream, second.logStream);
    let ledger = h.lambda.ledger();
    assert.equal(ledger.coldStarts, 1);
    assert.equal(ledger.environmentsCreated, 1);
    assert.deepEqual(h.lambda.stats(), { busy: 0, warm: 1, environments: [envIdOf(first.logStream)] });

    // Long enough that the second environment's thread starts (and loads tsx) on a busy machine
    // before the first is free again: piscina would hand the queued invocation to it otherwise.
    const [a, b] = await Promise.all([h.invoke({ ms: 2500 }), h.invoke({ ms: 2500 })]);
    assert.notEqual(json(a).logStream, json(b).logStream);
    ledger = h.lambda.ledger();
    assert.equal(ledger.environmentsCreated, 2);
    assert.equal(ledger.coldStarts, 2);
    assert.equal(ledger.invocations, 4);
    assert.equal(h.lambda.stats().warm, 2);
  } finally {
    await h.close();
  }
});

test('the module loads once per environment, from plain JavaScript too', async () => {
  const h = await harness({ handlerModule: fixture('counter.js') });
  try {
    const one = json(await h.invoke());
    const two = json(await h.invoke());
    assert.deepEqual([one.loads, one.calls, two.loads, two.calls], [1, 1, 1, 2]);
    assert.equal(one.logStream, two.logStream);
  } finally {
    await h.close();
  }
});

test('callback-style handlers are supported', async () => {
  const h = await harness({ handlerModule: fixture('counter.js'), handlerExport: 'callbackHandler' });
  try {
    assert.deepEqual(json(await h.invoke({ x: 1 })), { viaCallback: { x: 1 } });
  } finally {
    await h.close();
  }
});

test('a thrown error answers 200 with X-Amz-Function-Error: Unhandled and the runtime error shape', async () => {
  const h = await harness({ handlerModule: fixture('throws.ts') });
  try {
    const out = await h.invoke({});
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, 'Unhandled');
    const body = json(out);
    assert.equal(body.errorType, 'ValidationError');
    assert.equal(body.errorMessage, 'bad input: boom');
    assert.ok(Array.isArray(body.trace) && body.trace[0].startsWith('ValidationError: bad input: boom'));
    // A thrown error leaves the environment warm.
    assert.equal(h.lambda.stats().warm, 1);

    const exited = await h.invoke({ crash: 'exit' });
    assert.equal(exited.FunctionError, 'Unhandled');
    assert.equal(json(exited).errorType, 'Runtime.ExitError');
    assert.match(json(exited).errorMessage, /Runtime exited with error: exit status 3/);

    const uncaught = await h.invoke({ crash: 'uncaught' });
    assert.equal(uncaught.FunctionError, 'Unhandled');
    assert.equal(json(uncaught).errorType, 'RangeError');
    assert.equal(json(uncaught).errorMessage, 'escaped the handler');

    await until(() => h.lambda.stats().environments.length === 0, 'crashed environments to go');
    assert.equal(h.lambda.ledger().errors, 3);
  } finally {
    await h.close();
  }
});

test('init failures answer like Lambda and the next invocation initialises again', async () => {
  const h = await harness({ handlerModule: fixture('does-not-exist.ts') });
  try {
    const out = await h.invoke();
    assert.equal(out.FunctionError, 'Unhandled');
    assert.equal(json(out).errorType, 'Runtime.ImportModuleError');
    await h.invoke();
    assert.equal(h.lambda.ledger().coldStarts, 2);
  } finally {
    await h.close();
  }
  const missing = await harness({ handlerModule: fixture('echo.ts'), handlerExport: 'nope' });
  try {
    assert.equal(json(await missing.invoke()).errorType, 'Runtime.HandlerNotFound');
  } finally {
    await missing.close();
  }
});

test('at the concurrency limit the SDK throws TooManyRequestsException', async () => {
  const h = await harness({ handlerModule: fixture('sleep.ts'), concurrency: 1 });
  try {
    const running = h.invoke({ ms: 1500 });
    await until(() => h.lambda.stats().busy === 1, 'the first invocation to run');
    await assert.rejects(h.invoke({ ms: 1 }), (err: Error & { $metadata?: { httpStatusCode?: number }; Reason?: string }) => {
      assert.equal(err.name, 'TooManyRequestsException');
      assert.equal(err.$metadata?.httpStatusCode, 429);
      assert.equal(err.Reason, 'ReservedFunctionConcurrentInvocationLimitExceeded');
      return true;
    });
    assert.equal((await running).FunctionError, undefined);
    assert.equal(h.lambda.ledger().throttles, 1);
    assert.equal(h.lambda.ledger().invocations, 1);
    // Capacity is back once the first one is done.
    assert.equal((await h.invoke({ ms: 1 })).StatusCode, 200);
  } finally {
    await h.close();
  }
});

test('service errors map to the SDK exception classes', async () => {
  const h = await harness({ handlerModule: fixture('echo.ts') });
  try {
    await assert.rejects(h.invoke({}, { FunctionName: 'no-such-function' }), (err: Error) => {
      assert.equal(err.name, 'ResourceNotFoundException');
      assert.match(err.message, /Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function/);
      return true;
    });
    await assert.rejects(h.invoke('{"not json'), { name: 'InvalidRequestContentException' });
    assert.equal(h.lambda.ledger().invocations, 0);
  } finally {
    await h.close();
  }
});

test('payloads over 6 MB: request refused, response replaced by Function.ResponseSizeTooLarge', async () => {
  const h = await harness({ handlerModule: fixture('big.ts') });
  try {
    await assert.rejects(h.invoke({ bytes: 1, pad: 'y'.repeat(7 * 1024 * 1024) }), { name: 'RequestTooLargeException' });
    assert.equal(new TextDecoder().decode((await h.invoke({ bytes: 5 })).Payload), '"xxxxx"');
    const out = await h.invoke({ bytes: 6 * 1024 * 1024 + 200 });
    assert.equal(out.FunctionError, 'Unhandled');
    assert.equal(json(out).errorType, 'Function.ResponseSizeTooLarge');
  } finally {
    await h.close();
  }
});

test('DryRun answers 204 and Event answers 202 then runs', async () => {
  const h = await harness({ handlerModule: fixture('sleep.ts'), concurrency: 1 });
  try {
    assert.equal((await h.invoke({}, { InvocationType: 'DryRun' })).StatusCode, 204);
    assert.equal(h.lambda.ledger().invocations, 0);
    // Two events at concurrency 1: Lambda queues events instead of throttling them.
    assert.equal((await h.invoke({ ms: 50 }, { InvocationType: 'Event' })).StatusCode, 202);
    assert.equal((await h.invoke({ ms: 50 }, { InvocationType: 'Event' })).StatusCode, 202);
    await until(() => h.lambda.ledger().invocations === 2, 'both events to run');
    assert.equal(h.lambda.ledger().throttles, 0);
  } finally {
    await h.close();
  }
});

test('the function timeout ends the invocation like Lambda and discards the environment', async () => {
  const h = await harness({ handlerModule: fixture('sleep.ts'), timeoutS: 1 });
  try {
    const warm = json(await h.invoke({ ms: 1 }));
    const t0 = Date.now();
    const out = await h.invoke({ ms: 5000 });
    const elapsed = Date.now() - t0;
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, 'Unhandled');
    const body = json(out);
    assert.equal(body.errorType, 'Sandbox.Timedout');
    assert.match(body.errorMessage, /^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$/);
    assert.ok(elapsed >= 900 && elapsed < 4000, `timed out after ${elapsed} ms`);

    const next = json(await h.invoke({ ms: 1 }));
    assert.notEqual(next.logStream, warm.logStream);
    const ledger = h.lambda.ledger();
    assert.equal(ledger.coldStarts, 2);
    assert.equal(ledger.errors, 1);
    assert.deepEqual(h.lambda.stats().environments, [envIdOf(next.logStream)]);
  } finally {
    await h.close();
  }
});

test('initMs lengthens the cold start only', async () => {
  const h = await harness({ handlerModule: fixture('echo.ts'), initMs: 400 });
  try {
    const t0 = Date.now();
    await h.invoke();
    assert.ok(Date.now() - t0 >= 400);
    const coldBilled = h.lambda.ledger().billedMs;
    assert.ok(coldBilled >= 400, `cold invocation billed ${coldBilled} ms`);
    await h.invoke();
    const warmBilled = h.lambda.ledger().billedMs - coldBilled;
    assert.ok(warmBilled < 400, `warm invocation billed ${warmBilled} ms`);
    assert.equal(h.lambda.ledger().coldStarts, 1);
  } finally {
    await h.close();
  }
});

test('killEnvironment fails the running invocation with Runtime.ExitError', async () => {
  const h = await harness({ handlerModule: fixture('sleep.ts') });
  try {
    assert.equal(h.lambda.killEnvironment('env-404'), false);
    const running = h.invoke({ ms: 10_000 });
    await until(() => h.lambda.stats().busy === 1, 'the invocation to run');
    const [envId] = h.lambda.stats().environments;
    assert.ok(envId);
    assert.equal(h.lambda.killEnvironment(envId), true);
    const out = await running;
    assert.equal(out.FunctionError, 'Unhandled');
    assert.equal(json(out).errorType, 'Runtime.ExitError');
    assert.match(json(out).errorMessage, /Runtime exited with error: signal: killed/);
    assert.deepEqual(h.lambda.stats().environments, []);

    // An idle environment can be killed too; the next invocation gets a fresh one at once.
    const after = json(await h.invoke({ ms: 1 }));
    const idle = envIdOf(after.logStream);
    assert.notEqual(idle, envId);
    assert.equal(h.lambda.killEnvironment(idle), true);
    const fresh = json(await h.invoke({ ms: 1 }));
    assert.notEqual(envIdOf(fresh.logStream), idle);
    assert.equal(h.lambda.ledger().coldStarts, 3);
  } finally {
    await h.close();
  }
});

test('GB-seconds: duration rounded up to 1 ms times memory', async () => {
  assert.deepEqual(chargeFor(12.3, 512), { billedMs: 13, gbSeconds: 0.0065 });
  assert.deepEqual(chargeFor(1000, 1024), { billedMs: 1000, gbSeconds: 1 });
  assert.deepEqual(chargeFor(0.2, 128), { billedMs: 1, gbSeconds: 0.000125 });
  const l = emptyLedger();
  recordInvocation(l, { durationMs: 99.01, memoryMb: 2048, cold: true, error: false });
  recordInvocation(l, { durationMs: 1, memoryMb: 2048, cold: false, error: true });
  assert.deepEqual(l, { ...emptyLedger(), invocations: 2, billedMs: 101, gbSeconds: 0.202, coldStarts: 1, errors: 1 });

  const h = await harness({ handlerModule: fixture('sleep.ts'), memoryMb: 1024 });
  try {
    await h.invoke({ ms: 100 });
    await h.invoke({ ms: 100 });
    const ledger = h.lambda.ledger();
    assert.ok(ledger.billedMs >= 200, `billed ${ledger.billedMs}`);
    assert.ok(Math.abs(ledger.gbSeconds - ledger.billedMs / 1000) < 1e-9);
  } finally {
    await h.close();
  }
});

test('an idle environment is reaped after idleReapMs', async () => {
  const h = await harness({ handlerModule: fixture('echo.ts'), idleReapMs: 200 });
  try {
    await h.invoke();
    assert.equal(h.lambda.stats().environments.length, 1);
    await until(() => h.lambda.stats().environments.length === 0, 'the idle environment to be reaped');
    await h.invoke();
    assert.equal(h.lambda.ledger().coldStarts, 2);
  } finally {
    await h.close();
  }
});

test('a client that disconnects mid-invocation does not stop the invocation', async () => {
  const h = await harness({ handlerModule: fixture('sleep.ts') });
  try {
    const url = new URL(`/2015-03-31/functions/${FN}/invocations`, h.lambda.url);
    await new Promise<void>((resolve) => {
      const req = request(url, { method: 'POST' }, () => {});
      req.on('error', () => resolve());
      req.end(JSON.stringify({ ms: 300 }));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    await until(() => h.lambda.ledger().invocations === 1, 'the orphaned invocation to finish');
    assert.equal(h.lambda.ledger().errors, 0);
    assert.equal((await h.invoke({ ms: 1 })).StatusCode, 200);
  } finally {
    await h.close();
  }
});

test('close() leaves no handle open: the process exits by itself', async () => {
  const child = spawn(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--test')), fixture('close-exits.ts')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = (await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])))) as [number | null, string | null];
  clearTimeout(killer);
  assert.equal(signal, null, `did not exit by itself; stderr: ${stderr}`);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  assert.equal(report.ledger.invocations, 2);
});

test('localLambdaOptionsFromEnv reads defaults, values and rejects bad ones by name', () => {
  const defaults = { handlerModule: '/x/demo/function.ts' };
  assert.deepEqual(localLambdaOptionsFromEnv({}, defaults), {
    port: 5051,
    functionName: 'lambda-dispatch-demo',
    handlerModule: '/x/demo/function.ts',
    concurrency: 32,
    timeoutS: 60,
    memoryMb: 512,
    initMs: 0,
  });
  const opts = localLambdaOptionsFromEnv(
    {
      LAMBDA_DISPATCH_FunctionName: 'arn:aws:lambda:us-east-1:123456789012:function:my-fn',
      LOCAL_LAMBDA_PORT: '0',
      LOCAL_LAMBDA_CONCURRENCY: '8',
      LOCAL_LAMBDA_TIMEOUT_S: '3',
      LOCAL_LAMBDA_MEMORY_MB: '1024',
      LOCAL_LAMBDA_INIT_MS: '250',
      LOCAL_LAMBDA_HANDLER: '/h.ts',
    },
    defaults,
  );
  assert.deepEqual(opts, { port: 0, functionName: 'my-fn', handlerModule: '/h.ts', concurrency: 8, timeoutS: 3, memoryMb: 1024, initMs: 250 });
  for (const [name, value] of [
    ['LOCAL_LAMBDA_PORT', 'abc'],
    ['LOCAL_LAMBDA_CONCURRENCY', '-1'],
    ['LOCAL_LAMBDA_CONCURRENCY', '0'],
    ['LOCAL_LAMBDA_TIMEOUT_S', '1.5'],
    ['LOCAL_LAMBDA_MEMORY_MB', '64'],
    ['LOCAL_LAMBDA_INIT_MS', '-5'],
  ] as const) {
    assert.throws(() => localLambdaOptionsFromEnv({ [name]: value }, defaults), new RegExp(name));
  }
});

test('checkHandler: a missing module, a module that throws or one without the export is named before anything listens', async () => {
  const base = { functionName: FN, concurrency: 4, timeoutS: 10, memoryMb: 512, initMs: 0 };
  await checkHandler({ ...base, handlerModule: fixture('echo.ts') });
  await assert.rejects(checkHandler({ ...base, handlerModule: fixture('does-not-exist.ts') }), /^HandlerCheckError: LOCAL_LAMBDA_HANDLER: no such module .*does-not-exist\.ts/);
  await assert.rejects(
    checkHandler({ ...base, handlerModule: fixture('echo.ts'), handlerExport: 'nope' }),
    /LOCAL_LAMBDA_HANDLER: .*echo\.ts cannot serve: Runtime\.HandlerNotFound/,
  );
  await assert.rejects(checkHandler({ ...base, handlerModule: fixture('init-throws.ts') }), /LOCAL_LAMBDA_HANDLER: .*cannot reach the database/);
});
