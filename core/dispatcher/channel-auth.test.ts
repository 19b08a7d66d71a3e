// Channel authentication on the control port, with a real Dispatcher and real sockets; the test
// plays the extension (and a container worker) itself.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeFrame, encodeFrame } from '../frames.ts';
import { Rec } from '../records.ts';
import { WORKER_SECRET, settle, startHarness, type Harness } from './harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

test('a request starts an instance; a bad token gets 401 and no request, the right one gets it', async () => {
  const { dispatcher, invokes } = h;
  h.enqueueGet(0);
  assert.equal(invokes.length, 1, 'one invoke for one waiting request');
  const { payload } = invokes[0]!;
  assert.equal(payload.v, 1);
  assert.equal(payload.routerUrl, `ws://127.0.0.1:${h.port}`);

  const bad = await h.connect(payload.instanceId, payload.token.slice(0, -1) + (payload.token.endsWith('A') ? 'B' : 'A'));
  assert.equal(bad.status, 401);
  assert.equal(dispatcher.status().pending, 1, 'nothing was dispatched to the impostor');
  assert.equal((await h.connect('no-such-instance', payload.token)).status, 409);

  const good = await h.connect(payload.instanceId, payload.token);
  assert.equal(good.status, 101);
  const f = decodeFrame(await good.first!);
  assert.ok(f.type === 'req-head' && f.head.target === '/ping' && f.end);
  assert.equal(dispatcher.status().pending, 0);
  assert.equal(dispatcher.status().instances.open, 1);
  good.ws!.close();
  await settle(100);
  // A GET with no body whose instance vanished before answering goes back to the queue once it is
  // known not to have crashed: here its invoke runs on, so after the bounded wait for its outcome.
  dispatcher.tick();
  assert.equal(dispatcher.status().requests.retried, 0, 'waits for the outcome of its instance first');
  h.clock.now += 1000;
  dispatcher.tick();
  const s = dispatcher.status();
  assert.equal(s.requests.retried, 1);
  assert.equal(s.pending, 1);
  assert.equal(s.inFlight, 0);

  // The instance that lost all its channels is gone; the scaler starts another for the request.
  assert.equal((await h.connect(payload.instanceId, payload.token)).status, 409);
  h.clock.now += 3000;
  dispatcher.tick();
  assert.equal(invokes.length, 2);
  const second = invokes[1]!.payload;
  // Its second instance dies as well: one more try, on a third instance.
  const again = await h.connect(second.instanceId, second.token);
  assert.equal(again.status, 101);
  assert.equal(decodeFrame(await again.first!).type, 'req-head');
  again.ws!.close();
  await settle(100);
  h.clock.now += 1000;
  dispatcher.tick();
  assert.equal(dispatcher.status().requests.retried, 2);
  h.clock.now += 3000;
  dispatcher.tick();
  assert.equal(invokes.length, 3);
  const third = invokes[2]!.payload;
  // The third loss is final: the client gets a 502 through the ring.
  const last = await h.connect(third.instanceId, third.token);
  assert.equal(last.status, 101);
  assert.equal(decodeFrame(await last.first!).type, 'req-head');
  last.ws!.close();
  await settle(100);
  h.clock.now += 1000;
  dispatcher.tick();
  assert.deepEqual(h.drainRing(), [Rec.RES_ERROR]);
  const t = dispatcher.status();
  assert.equal(t.pending, 0);
  assert.equal(t.inFlight, 0);
  assert.equal(t.requests.failed, 1);
});

test('a container worker with the shared secret is used before any Lambda is invoked', async () => {
  const { dispatcher, invokes } = h;
  assert.equal((await h.connectWorker('not-the-secret')).status, 401);
  const worker = await h.connectWorker(WORKER_SECRET);
  assert.equal(worker.status, 101);
  await settle();
  assert.deepEqual(dispatcher.status().workers, { connected: 1, busy: 0 });
  const invokesBefore = invokes.length;
  h.clock.now += 3000;
  h.enqueueGet(1);
  const f = decodeFrame(await worker.first!);
  assert.ok(f.type === 'req-head');
  assert.equal(invokes.length, invokesBefore, 'no Lambda invoked while a worker has room');
  assert.equal(dispatcher.status().workers.busy, 1);
  worker.ws!.send(encodeFrame({ type: 'res-head', id: f.id, head: { status: 200, headers: ['content-type', 'text/plain'] }, end: true, body: Buffer.from('pong') }));
  await settle(100);
  assert.deepEqual(h.drainRing(), [Rec.RES_HEAD, Rec.RES_END]);
  worker.ws!.close();
  await settle(100);
  assert.deepEqual(dispatcher.status().workers, { connected: 0, busy: 0 });
  assert.equal(dispatcher.status().inFlight, 0);
});

test('a malformed frame closes that channel with a protocol error and its request is answered', async () => {
  const { dispatcher } = h;
  const worker = await h.connectWorker(WORKER_SECRET);
  assert.equal(worker.status, 101);
  h.enqueueGet(2);
  const f = decodeFrame(await worker.first!);
  assert.ok(f.type === 'req-head');
  const closed = new Promise<number>((r) => worker.ws!.once('close', (code) => r(code)));
  worker.ws!.send(Buffer.from([0xee, 0, 0, 0, 0, 1, 2, 3])); // unknown frame type
  assert.equal(await closed, 1002);
  await settle();
  dispatcher.tick();
  const s = dispatcher.status();
  assert.equal(s.inFlight, 0);
  // A GET with no body is retried (a container worker has no invoke outcome to wait for): it waits
  // for the next instance rather than failing.
  assert.equal(s.pending, 1);
  assert.equal(s.requests.retried, 3);
  dispatcher.onRecord(Rec.REQ_ABORT, 2, new Uint8Array(0));
  assert.equal(dispatcher.status().pending, 0);
});

test('a response head too big for one ring record is relayed as head then body, not a crash', async () => {
  const worker = await h.connectWorker(WORKER_SECRET, 'box-big');
  h.enqueueGet(3);
  const f = decodeFrame(await worker.first!);
  assert.ok(f.type === 'req-head');
  h.drainRing();
  // The harness ring carries at most 16,372 bytes per record.
  const body = Buffer.alloc(40_000, 7);
  worker.ws!.send(encodeFrame({ type: 'res-head', id: f.id, head: { status: 200, headers: ['content-type', 'x/y'] }, end: true, body }));
  await settle(100);
  const seen = h.drainRing();
  assert.equal(seen[0], Rec.RES_HEAD);
  assert.ok(seen.filter((t) => t === Rec.RES_BODY).length >= 3, `body split over records: ${seen}`);
  assert.equal(seen.at(-1), Rec.RES_END);
  assert.equal(h.dispatcher.status().inFlight, 0);
  worker.ws!.close();
  await settle();
});

test('a retried request takes its old instance rather than stall the queue when there is no other', async () => {
  const c0 = await h.connectWorker(WORKER_SECRET, 'box-solo', 0);
  const c1 = await h.connectWorker(WORKER_SECRET, 'box-solo', 1);
  h.enqueueGet(4);
  await settle();
  const busy = c0.frames.length > 0 ? c0 : c1;
  const other = busy === c0 ? c1 : c0;
  busy.ws!.close();
  await settle(100);
  h.dispatcher.tick();
  await settle();
  // The GET was retried; the only instance with room is the one it was lost on.
  assert.equal(other.frames.length, 1);
  assert.equal(other.frames[0]!.type, 'req-head');
  const s = h.dispatcher.status();
  assert.equal(s.pending, 0);
  assert.equal(s.inFlight, 1);
  other.ws!.close();
  await settle();
});
