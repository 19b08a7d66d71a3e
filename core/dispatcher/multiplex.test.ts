// The router's side of multiplexed channels with a fake clock and a hand-played extension: several
// requests on one channel, request bodies held to their credit, one request's fault ending that
// request only, and the bookkeeping (idle list, abort watchdog) a channel with several requests needs.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { asBuffer, encodeFrame, requestHeadSize, writeRequestHead, type Frame } from '../frames.ts';
import { MUX_WINDOW_BYTES } from '../protocol.ts';
import { Rec } from '../records.ts';
import { settle, startHarness, type Harness, type Opened } from './harness.ts';
import type { Instance } from './state.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(() => h.close());

const heads = (o: Opened) => o.frames.filter((f): f is Extract<Frame, { type: 'req-head' }> => f.type === 'req-head');
const answer = (o: Opened, id: number, status = 200) => o.ws!.send(encodeFrame({ type: 'res-head', id, head: { status, headers: ['content-length', '0'] }, end: true, body: null }));
/** The dispatcher's instances: what the idle list holds is not visible from outside. */
const instances = () => [...(h.dispatcher as unknown as { fleet: { all(): Iterable<Instance> } }).fleet.all()];

async function openMux(features = 'mux, channels, upgrade'): Promise<Opened> {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0, { features });
  await settle();
  return a0;
}

test('an extension that names mux gets several requests at once on one channel; without it, one', async () => {
  const a0 = await openMux();
  h.enqueueGet(1);
  h.enqueueGet(2);
  await settle();
  // The harness's instances take 2 at once: both on the one channel open, the third waits.
  assert.equal(heads(a0).length, 2, 'two requests in flight on channel 0');
  assert.equal(h.dispatcher.status().channels.multiplexed, 1);
  assert.equal(h.dispatcher.status().pending, 1);
  for (const f of heads(a0)) answer(a0, f.id);
  await settle();
  assert.equal(heads(a0).length, 3, 'the third follows on the same channel');
  answer(a0, heads(a0)[2]!.id);
  await settle();
  assert.deepEqual(h.drainRing().filter((t) => t === Rec.RES_END).length, 3);
  assert.equal(h.dispatcher.status().inFlight, 0);

  const b = await startHarness();
  try {
    b.enqueueGet(0);
    b.enqueueGet(1);
    const p = b.invokes[0]!.payload;
    const b0 = await b.connect(p.instanceId, p.token, 0, { features: 'channels, upgrade' });
    await settle();
    assert.equal(heads(b0).length, 1, 'one request a channel without mux');
    assert.equal(b.dispatcher.status().channels.multiplexed, 0);
  } finally {
    await b.close();
  }
});

test('a request body goes no further than its credit; REQ_END follows the last chunk, once', async () => {
  const a0 = await openMux();
  answer(a0, heads(a0)[0]!.id);
  await settle();
  const head = { method: 'POST', target: '/echo', headers: ['host', 'x'] };
  const rec = Buffer.alloc(1 + requestHeadSize(head));
  writeRequestHead(asBuffer(rec), 1, head);
  h.dispatcher.onRecord(Rec.REQ_HEAD, 5, rec);
  const chunk = Buffer.alloc(64 * 1024, 7);
  const chunks = (3 * MUX_WINDOW_BYTES) / chunk.length;
  for (let i = 0; i < chunks; i++) h.dispatcher.onRecord(Rec.REQ_BODY, 5, chunk);
  h.dispatcher.onRecord(Rec.REQ_END, 5, Buffer.alloc(0));
  await settle();
  const id = heads(a0).at(-1)!.id;
  const sent = () => a0.frames.filter((f) => f.type === 'req-body' && f.id === id).reduce((n, f) => n + (f as { body: Uint8Array }).body.length, 0);
  assert.equal(sent(), MUX_WINDOW_BYTES, 'a window, then nothing until credit');
  assert.equal(a0.frames.filter((f) => f.type === 'req-end').length, 0);
  const credits = h.drainRing().filter((t) => t === Rec.CREDIT).length;
  assert.equal(credits, MUX_WINDOW_BYTES / chunk.length, 'ingress is credited only for what went out');
  for (let i = 0; i < 2; i++) {
    a0.ws!.send(encodeFrame({ type: 'credit', id, bytes: MUX_WINDOW_BYTES }));
    await settle();
  }
  assert.equal(sent(), 3 * MUX_WINDOW_BYTES);
  const ends = a0.frames.filter((f) => f.type === 'req-end');
  assert.equal(ends.length, 1);
  assert.equal(a0.frames.at(-1)!.type, 'req-end', 'after the last chunk');
});

test("one request's broken framing ends that request; the others on the channel go on", async () => {
  const a0 = await openMux();
  h.enqueueGet(1);
  await settle();
  const [first, second] = heads(a0);
  h.drainRing();
  // 600 is not an HTTP status: LD_BAD_RESPONSE_FRAMING for that request, REQ_ABORT to the extension.
  answer(a0, first!.id, 600);
  await settle();
  assert.deepEqual(h.drainRing(), [Rec.RES_ERROR]);
  assert.ok(a0.frames.some((f) => f.type === 'req-abort' && f.id === first!.id));
  assert.equal(a0.ws!.readyState, a0.ws!.OPEN, 'the channel stays');
  answer(a0, second!.id);
  a0.ws!.send(encodeFrame({ type: 'res-end', id: first!.id })); // the extension confirms the abort
  await settle();
  assert.deepEqual(h.drainRing(), [Rec.RES_HEAD, Rec.RES_END]);
  const s = h.dispatcher.status();
  assert.equal(s.inFlight, 0);
  assert.equal(s.framingViolations['bad-status'], 1);
  // Counted once: the extension confirming the abort with RES_ERROR is not a second failure.
  assert.equal(s.requests.failed, 1);
});

test('an abandoned request confirmed with RES_ERROR counts one failure and frees its place', async () => {
  const a0 = await openMux();
  const [first] = heads(a0);
  h.drainRing();
  answer(a0, first!.id, 600);
  await settle();
  a0.ws!.send(encodeFrame({ type: 'res-error', id: first!.id, message: 'aborted' }));
  await settle();
  const s = h.dispatcher.status();
  assert.deepEqual([s.requests.failed, s.inFlight, s.framingViolations['bad-status']], [1, 0, 1]);
  assert.deepEqual(h.drainRing(), [Rec.RES_ERROR], 'one terminal record for the slot');
});

test('the idle list holds a multiplexed channel once, however many requests it served', async () => {
  const a0 = await openMux();
  for (let i = 1; i <= 30; i++) {
    for (const f of heads(a0).slice(i - 1)) answer(a0, f.id);
    await settle(10);
    h.enqueueGet(i);
    await settle(10);
  }
  const [inst] = instances();
  assert.ok(inst!.idle.length <= inst!.channels.size, `idle list ${inst!.idle.length} for ${inst!.channels.size} channels`);
});

test('an abort never confirmed still cuts a multiplexed channel that was told GOAWAY', async () => {
  const a0 = await openMux('mux');
  h.enqueueGet(1);
  await settle();
  const [first] = heads(a0);
  // The instance leaves and its replacement never opens: it drains, and the first answer brings GOAWAY
  // while the second request is still on the channel.
  a0.ws!.send(encodeFrame({ type: 'close-request', reason: 'deadline' }));
  await settle();
  h.clock.now += 1500;
  h.dispatcher.tick();
  answer(a0, first!.id);
  await settle();
  assert.ok(a0.frames.some((f) => f.type === 'goaway'));
  h.dispatcher.onRecord(Rec.REQ_ABORT, 1, Buffer.alloc(0));
  await settle();
  h.clock.now += 5000;
  h.dispatcher.tick();
  await settle(100);
  assert.equal(h.dispatcher.status().channels.abortTimeouts, 1);
  assert.equal(a0.ws!.readyState, a0.ws!.CLOSED);
});

test('CREDIT on a channel that is not multiplexed is a protocol error', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0, { features: 'channels' });
  await settle();
  a0.ws!.send(encodeFrame({ type: 'credit', id: heads(a0)[0]!.id, bytes: 1000 }));
  const code = await new Promise<number>((resolve) => a0.ws!.once('close', (c) => resolve(c)));
  assert.equal(code, 1002);
});

