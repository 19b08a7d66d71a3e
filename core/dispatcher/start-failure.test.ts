// A function whose starts keep failing with a function error (its init fails) and nothing open or
// starting: the waiting requests are answered LD_FUNCTION_START_FAILED at once, not at their queue
// timeout; a start that opens a channel ends that.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { settle, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ incomingRequestTimeoutMs: 60_000 });
});
afterEach(() => h.close());

const initFailed = { kind: 'function-error', errorType: 'Runtime.ImportModuleError', message: "Cannot find module 'app'" } as const;

test('two failed starts in a row answer every waiting request at once; an instance that opens resets it', async () => {
  h.enqueueGet(0);
  h.enqueueGet(1);
  assert.equal(h.invokes.length, 1);
  h.invokes[0]!.end(initFailed);
  await settle();
  h.dispatcher.tick();
  // One failure may be a fluke: the requests wait for the next start.
  assert.equal(h.dispatcher.status().pending, 2);
  assert.equal(h.dispatcher.status().requests.rejected, 0);

  // Past the backoff (≤ 1 s after one failure) the next start goes out, and fails too.
  h.clock.now += 2100;
  h.dispatcher.tick();
  assert.equal(h.invokes.length, 2);
  h.dispatcher.tick();
  assert.equal(h.dispatcher.status().pending, 2, 'a start in progress: the requests wait for it');
  h.invokes[1]!.end(initFailed);
  await settle();
  h.dispatcher.tick();
  let s = h.dispatcher.status();
  assert.equal(s.pending, 0, 'answered at once, 58 s before their queue timeout');
  assert.equal(s.requests.rejected, 2);
  assert.equal(s.requests.timedOut, 0);
  assert.equal(s.invokes.failuresByKind['function-error'], 2);

  // A request arriving while the backoff holds starts back is answered at the next tick too.
  h.enqueueGet(2);
  h.dispatcher.tick();
  assert.equal(h.dispatcher.status().requests.rejected, 3);

  // Once a start is allowed again, a new request waits for it; when it opens, the function works.
  h.clock.now += 60_000;
  h.enqueueGet(3);
  h.dispatcher.tick();
  assert.equal(h.invokes.length, 3);
  const c = h.invokes[2]!.payload;
  await h.connect(c.instanceId, c.token, 0);
  await settle();
  h.dispatcher.tick();
  s = h.dispatcher.status();
  assert.equal(s.requests.rejected, 3);
  assert.equal(s.instances.open, 1);
});

test('a function error of an instance that had opened does not count as a failed start', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const opened = await h.connect(a.instanceId, a.token, 0);
  await settle();
  opened.ws!.terminate();
  await settle();
  h.invokes[0]!.end({ kind: 'function-error', errorType: 'Sandbox.Timedout', message: 'Task timed out' });
  await settle();
  h.enqueueGet(1);
  h.clock.now += 2100;
  h.dispatcher.tick();
  const b = h.invokes.at(-1)!;
  b.end(initFailed);
  await settle();
  h.dispatcher.tick();
  // One failed start after an instance that worked: the requests still wait.
  assert.equal(h.dispatcher.status().requests.rejected, 0);
});
