// The instance lifecycle (starting → open → draining → closing → closed) with a fake clock, real
// channels and captured invokes: every way an instance ends leaves the counters right.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { WebSocket } from 'ws';
import { decodeFrame, encodeFrame } from '../frames.ts';
import { Rec } from '../records.ts';
import { WORKER_SECRET, settle, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(() => h.close());

function answer(ws: WebSocket, id: number): void {
  ws.send(encodeFrame({ type: 'res-head', id, head: { status: 200, headers: [] }, end: true, body: null }));
}

test('deadline: the old instance serves until its replacement opens, then gets GOAWAY', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0, { coldStart: true });
  const a1 = await h.connect(a.instanceId, a.token, 1, { coldStart: true });
  const f0 = a0.frames;
  const f1 = a1.frames;
  await settle();
  // One request in flight on A, then A asks to leave.
  assert.equal(h.dispatcher.status().inFlight, 1);
  const busy = f0.length > 0 ? a0 : a1;
  const busyFrames = f0.length > 0 ? f0 : f1;
  const idleFrames = f0.length > 0 ? f1 : f0;
  busy.ws!.send(encodeFrame({ type: 'close-request', reason: 'deadline' }));
  await settle();
  assert.equal(h.invokes.length, 2, 'a replacement starts at once');
  assert.equal(h.dispatcher.status().instances.open, 1, 'A still serves');
  assert.equal(h.dispatcher.status().instances.starting, 1);

  // The replacement opens: A's idle channel gets GOAWAY, its busy one after its request.
  const b = h.invokes[1]!.payload;
  const b0 = await h.connect(b.instanceId, b.token, 0);
  await settle();
  assert.deepEqual(idleFrames.map((f) => f.type), ['goaway']);
  answer(busy.ws!, busyFrames[0]!.type === 'req-head' ? (busyFrames[0] as { id: number }).id : -1);
  await settle();
  assert.deepEqual(busyFrames.map((f) => f.type), ['req-head', 'goaway']);
  assert.equal(h.dispatcher.status().instances.draining, 1);

  // New work goes to B only.
  h.enqueueGet(1);
  const fb = decodeFrame(await b0.first!);
  assert.equal(fb.type, 'req-head');

  // A leaves: channels close, then its invoke returns.
  a0.ws!.close();
  a1.ws!.close();
  await settle();
  assert.equal(h.dispatcher.status().instances.closing, 1);
  h.invokes[0]!.end({ kind: 'returned', exitReason: 'deadline', requests: 1 });
  await settle();
  const s = h.dispatcher.status();
  assert.deepEqual(s.instances, { starting: 0, open: 1, draining: 0, closing: 0 });
  assert.equal(s.inFlight, 1);
  assert.equal(s.invokes.failed, 0);
  assert.equal(s.coldStarts, 1, 'A said it was cold; B did not');
  assert.equal(s.decisions['scale-out'], 1);

  // What the operator's log shows of it, in order.
  const A = a.instanceId.slice(0, 8);
  const B = b.instanceId.slice(0, 8);
  assert.deepEqual(
    h.events.map((e) => `${e.event} ${'instance' in e ? e.instance : ''}`.trim()),
    ['scaled', `instance-started ${A}`, `instance-opened ${A}`, `instance-started ${B}`, `instance-opened ${B}`, `instance-draining ${A}`, `instance-closed ${A}`],
  );
  assert.deepEqual(h.events[0], { event: 'scaled', from: 0, to: 1, reason: 'a request waits and no instance is open or starting' });
  assert.deepEqual(h.events[3], { event: 'instance-started', instance: B, replaces: A });
  const opened = h.events.filter((e) => e.event === 'instance-opened');
  assert.deepEqual(opened.map((e) => e.event === 'instance-opened' && e.coldStart), [true, false]);
  const closed = h.events.at(-1)!;
  assert.ok(closed.event === 'instance-closed' && /replaced before its deadline/.test(closed.reason), JSON.stringify(closed));
});

test('deadline: without a replacement in time the old instance is drained anyway', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0);
  const f0 = a0.frames;
  await settle();
  a0.ws!.send(encodeFrame({ type: 'close-request', reason: 'deadline' }));
  await settle();
  assert.equal(h.invokes.length, 2);
  h.clock.now += 500;
  h.dispatcher.tick();
  assert.equal(h.dispatcher.status().instances.open, 1, 'still within the wait');
  h.clock.now += 600;
  h.dispatcher.tick();
  assert.equal(h.dispatcher.status().instances.draining, 1);
  answer(a0.ws!, (f0[0] as { id: number }).id);
  await settle();
  assert.deepEqual(f0.map((f) => f.type), ['req-head', 'goaway']);
});

test('a frozen environment (no pongs) is cut off and its request goes elsewhere', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0);
  await a0.first;
  // A frozen Lambda keeps its socket open but answers nothing.
  (a0.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  h.dispatcher.ping();
  await settle();
  assert.equal(h.dispatcher.status().channels.open, 1, 'one missed pong is tolerated');
  h.dispatcher.ping();
  await settle();
  // Cut for silence: the host's fault, so it goes again at the next tick whatever the invoke says.
  h.dispatcher.tick();
  const s = h.dispatcher.status();
  assert.equal(s.channels.open, 0);
  assert.equal(s.inFlight, 0);
  assert.equal(s.requests.retried, 1);
  assert.equal(s.pending, 1);
  assert.equal(s.instances.closing, 1, 'waits for its invoke to end');
  h.invokes[0]!.end({ kind: 'function-error', errorType: 'Sandbox.Timedout', message: 'Task timed out' });
  await settle();
  assert.equal(h.dispatcher.status().instances.closing, 0);
});

test('failed starts back off: no new invoke until the delay has passed', async () => {
  h.enqueueGet(0);
  assert.equal(h.invokes.length, 1);
  h.invokes[0]!.end({ kind: 'throttled', message: 'Rate Exceeded.' });
  await settle();
  let s = h.dispatcher.status();
  assert.equal(s.invokes.failuresByKind.throttled, 1);
  assert.equal(s.invokes.consecutiveFailures, 1);
  h.clock.now += 2100; // past the scale-out interval, within the first backoff? (≤ 500 ms: no)
  h.dispatcher.tick();
  assert.equal(h.invokes.length, 2, 'after the first backoff (≤ 500 ms) a start is allowed');
  h.invokes[1]!.end({ kind: 'returned', exitReason: 'connect-failed', requests: 0, error: 'ECONNREFUSED' });
  await settle();
  s = h.dispatcher.status();
  assert.equal(s.invokes.failuresByKind['connect-failed'], 1);
  assert.equal(s.invokes.consecutiveFailures, 2);
  h.clock.now += 400; // the second backoff is 500–1000 ms
  h.dispatcher.tick();
  assert.equal(h.invokes.length, 2, 'held back');
  h.clock.now += 2100;
  h.dispatcher.tick();
  assert.equal(h.invokes.length, 3);
});

test('instances idle after the load go away; requests never leave counters behind', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0);
  const f0 = a0.frames;
  await settle();
  answer(a0.ws!, (f0[0] as { id: number }).id);
  await settle();
  assert.equal(h.dispatcher.status().inFlight, 0);
  h.clock.now += 6000;
  h.dispatcher.tick();
  assert.equal(h.dispatcher.status().instances.draining, 1, 'scale-in drains the idle instance');
  await settle();
  assert.deepEqual(f0.map((f) => f.type), ['req-head', 'goaway']);
  a0.ws!.close();
  h.invokes[0]!.end({ kind: 'returned', exitReason: 'goaway', requests: 1 });
  await settle();
  const s = h.dispatcher.status();
  assert.deepEqual(s.instances, { starting: 0, open: 0, draining: 0, closing: 0 });
  assert.equal(s.pending + s.inFlight + s.channels.open + s.channels.busy, 0);
  assert.equal(s.requests.served, 1);
});

test('a client abort before the response head: the RES_END that confirms it frees the channel, which stays open', async () => {
  h.enqueueGet(0);
  const p = h.invokes[0]!.payload;
  const c = await h.connect(p.instanceId, p.token, 0);
  const head = decodeFrame(await c.first!);
  assert.equal(head.type, 'req-head');
  h.dispatcher.onRecord(Rec.REQ_ABORT, 0, new Uint8Array(0));
  await settle();
  assert.deepEqual(c.frames.map((f) => f.type), ['req-head', 'req-abort']);
  c.ws!.send(encodeFrame({ type: 'res-end', id: (head as { id: number }).id }));
  await settle();
  const s = h.dispatcher.status();
  assert.deepEqual([s.channels.busy, s.inFlight, s.channels.open], [0, 0, 1], 'freed, and not closed as a protocol error');
  assert.equal(s.requests.aborted, 1);
  // The channel takes the next request.
  h.enqueueGet(1);
  await settle();
  assert.equal(c.frames.filter((f) => f.type === 'req-head').length, 2);
});

test('a client abort the peer never confirms: after AbortAckMs the channel is closed and its capacity comes back', async () => {
  h.enqueueGet(0);
  const p = h.invokes[0]!.payload;
  const c = await h.connect(p.instanceId, p.token, 0);
  const head = decodeFrame(await c.first!);
  assert.equal(head.type, 'req-head');
  const closed = new Promise<number>((r) => c.ws!.once('close', (code) => r(code)));
  h.dispatcher.onRecord(Rec.REQ_ABORT, 0, new Uint8Array(0));
  await settle();
  assert.deepEqual(c.frames.map((f) => f.type), ['req-head', 'req-abort']);
  // A frozen or buggy peer: no RES_END/RES_ERROR ever comes.
  h.clock.now += 1000;
  h.dispatcher.tick();
  assert.equal(h.dispatcher.status().channels.busy, 1, 'still within AbortAckMs (2000 ms in the harness)');
  h.clock.now += 1500;
  h.dispatcher.tick();
  await closed;
  await settle();
  const s = h.dispatcher.status();
  assert.equal(s.channels.abortTimeouts, 1);
  assert.equal(s.channels.busy, 0);
  assert.equal(s.inFlight, 0);
  assert.equal(s.requests.aborted, 1);
});

test('channels that die together: the lost request waits for the next tick and never lands on the next dying one', async () => {
  const a = await h.connectWorker(WORKER_SECRET, 'box-a', 0);
  const b = await h.connectWorker(WORKER_SECRET, 'box-b', 0);
  h.enqueueGet(0);
  await settle();
  const [lost, next] = a.frames.length > 0 ? [a, b] : [b, a];
  assert.equal(lost.frames[0]?.type, 'req-head');
  // Both boxes go down within moments of each other (a host failure, a deploy).
  lost.ws!.close();
  await settle(20);
  assert.deepEqual(next.frames, [], 'not sent to the other box at once');
  next.ws!.close();
  await settle();
  h.dispatcher.tick();
  const s = h.dispatcher.status();
  assert.equal(s.requests.retried, 1);
  assert.equal(s.requests.failed, 0);
  assert.equal(s.pending, 1, 'it waits for capacity that lives');
  assert.equal(next.frames.length, 0);
});

test('a request whose environment crashed under it is answered 502, not replayed onto another environment', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0);
  assert.equal(decodeFrame(await a0.first!).type, 'req-head');
  // The app throws asynchronously: the runtime dies, the socket drops, then the invoke reports it.
  a0.ws!.terminate();
  await settle();
  h.dispatcher.tick();
  assert.equal(h.dispatcher.status().pending, 1, 'held while the outcome is unknown');
  h.invokes[0]!.end({ kind: 'function-error', errorType: 'Runtime.ExitError', message: 'exit status 1' });
  await settle();
  const s = h.dispatcher.status();
  assert.equal(s.requests.notRetried, 1);
  assert.equal(s.requests.retried, 0);
  assert.equal(s.pending, 0);
  assert.deepEqual(h.drainRing(), [Rec.RES_ERROR]);
  assert.equal(h.invokes.length, 1, 'no second environment was started for it');
});

test('a request lost with a channel whose invoke runs on goes again after the bounded wait for its outcome', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0);
  const a1 = await h.connect(a.instanceId, a.token, 1);
  await settle();
  const [lost, kept] = a0.frames.length > 0 ? [a0, a1] : [a1, a0];
  lost.ws!.terminate(); // a network blip: the invoke goes on
  await settle();
  h.clock.now += 500;
  h.dispatcher.tick();
  assert.equal(kept.frames.length, 0, 'still waiting to learn whether the environment failed');
  h.clock.now += 600;
  h.dispatcher.tick();
  await settle();
  // Its only other channel is on the same instance: better there than nowhere.
  assert.equal(kept.frames[0]?.type, 'req-head');
  assert.equal(h.dispatcher.status().requests.retried, 1);
});

test('waiting requests start one instance at once; the tick starts the rest, no more than they need', async () => {
  // Nothing open: the first request starts an instance now (not a tick later), and the nine after
  // it start nothing themselves, since the scaler runs on the tick, not per arriving request.
  for (let slot = 0; slot < 10; slot++) h.enqueueGet(slot);
  assert.equal(h.invokes.length, 1);
  assert.equal(h.dispatcher.status().decisions['scale-out'], 1);
  h.clock.now += 100;
  h.dispatcher.tick();
  assert.equal(h.invokes.length, 1, 'within the scale-out interval of that start');
  // Past it: 10 waiting at 2 per instance need 5; one is starting, so 4 more.
  h.clock.now += 2000;
  h.dispatcher.tick();
  assert.equal(h.invokes.length, 5);
  const s = h.dispatcher.status();
  assert.equal(s.instances.starting, 5);
  assert.equal(s.lastDecision.capacity, 2, 'decided on the one starting instance of 2');
  assert.ok(s.lastDecision.demand > 0 && s.lastDecision.demand < 10, `smoothed, not the instant: ${s.lastDecision.demand}`);
  // While they start, more ticks (past the scale-out interval) start none: they will serve these.
  h.clock.now += 2500;
  h.dispatcher.tick();
  assert.equal(h.invokes.length, 5);
  const later = h.dispatcher.status().lastDecision;
  assert.equal(later.held, 'instances-starting');
  assert.equal(later.capacity, 10, 'five starting instances of 2');
});
