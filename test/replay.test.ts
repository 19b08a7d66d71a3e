// A request that crashes its environment is answered, not replayed: sent again it would crash the
// next environment too, and the client would wait for both. Whole stack: the local Lambda runs
// test/fixtures/crash-function.ts, whose app kills its runtime on GET /crash.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { call, startStack, waitFor, type Stack } from './stack.ts';

const CRASHING = fileURLToPath(new URL('./fixtures/crash-function.ts', import.meta.url));

let stack: Stack;
before(async () => {
  stack = await startStack({ lambda: { handlerModule: CRASHING, functionName: 'crashing' }, routerEnv: { LAMBDA_DISPATCH_FunctionName: 'crashing' } });
});
after(() => stack.close());

test('a GET that crashes its environment: one environment lost, 502 at once, no replay', async () => {
  assert.equal((await call(stack.router.url, '/warm')).status, 200);
  const before = stack.lambda.ledger();
  const t0 = performance.now();
  const r = await call(stack.router.url, '/crash');
  const ms = performance.now() - t0;
  const s = await waitFor(
    () => stack.router.status(),
    (st) => st.pending === 0 && st.inFlight === 0 && st.channels.busy === 0,
  );
  const ledger = stack.lambda.ledger();
  console.log(`# crash: client got ${r.status} ${r.headers['x-lambda-dispatch-error']} in ${Math.round(ms)} ms; invokes ${s.invokes.started}, failed ${JSON.stringify(s.invokes.failuresByKind)}; retried ${s.requests.retried}, not retried ${s.requests.notRetried}`);
  assert.equal(r.status, 502);
  assert.equal(r.headers['x-lambda-dispatch-error'], 'LD_INSTANCE_FAILED');
  assert.equal(s.requests.retried, 0, 'not sent to another environment');
  assert.equal(s.requests.notRetried, 1);
  assert.equal(s.invokes.failuresByKind['function-error'], 1, 'exactly one environment lost');
  assert.equal(ledger.errors - before.errors, 1);
  // Within a bound far below the old replay-then-fail path (two crashes, ~3 s) but loose enough for a busy machine.
  assert.ok(ms < 2500, `answered after ${Math.round(ms)} ms`);
  assert.equal((await call(stack.router.url, '/after')).status, 200, 'the router serves on');
});
