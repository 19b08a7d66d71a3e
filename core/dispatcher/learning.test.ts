// The fleet's side of learned concurrency, with a fake clock and real channels: a LOAD frame from
// an instance's channel moves that instance's limit (Lambda or container worker), the new limit
// decides whether it takes another request, and the change is a status figure and an event.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { encodeFrame } from '../frames.ts';
import { WORKER_SECRET, settle, startHarness, type Harness } from './harness.ts';

let h: Harness;
afterEach(() => h.close());

/** As if the instance had had its whole limit busy since its last report (what earns a raise). */
function busy(h: Harness, index: number): void {
  const fleet = (h.dispatcher as unknown as { fleet: { all(): Iterable<{ peakBusy: number; concurrency: { limit: number } }> } }).fleet;
  const inst = [...fleet.all()][index]!;
  inst.peakBusy = inst.concurrency.limit;
}

const load = (elu: number) => encodeFrame({ type: 'load', load: { elu, cpu: elu, requests: 10, intervalMs: 1000 } });

test('a saturated Lambda instance is given fewer requests at once; the status and an event say why', async () => {
  h = await startHarness({ minConcurrentCount: 1, maxConcurrentCount: 8, channelCount: 8 });
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const c0 = await h.connect(a.instanceId, a.token, 0);
  await settle();
  assert.deepEqual(h.dispatcher.status().concurrency.map((c) => c.limit), [8], 'starts at min(max, 10)');
  c0.ws!.send(load(0.95));
  await settle();
  const [c] = h.dispatcher.status().concurrency;
  assert.equal(c!.limit, 6);
  assert.equal(c!.elu, 0.95);
  assert.match(c!.reason, /^saturated \(elu 0\.95\)$/);
  const e = h.events.find((x) => x.event === 'limit');
  assert.deepEqual(e, { event: 'limit', instance: a.instanceId.slice(0, 8), from: 8, to: 6, reason: 'saturated (elu 0.95)' });
});

test('a container worker learns down from what it announced', async () => {
  h = await startHarness({ minConcurrentCount: 1, maxConcurrentCount: 8, channelCount: 8 });
  const w = await h.connectWorker(WORKER_SECRET, 'box-1', 0);
  await settle();
  assert.deepEqual(h.dispatcher.status().concurrency.map((c) => [c.kind, c.limit]), [['worker', 4]]);
  w.ws!.send(load(0.99));
  await settle();
  assert.deepEqual(h.dispatcher.status().concurrency.map((c) => [c.kind, c.limit]), [['worker', 3]]);
});

test('a limit at the busy count stops new requests until one finishes', async () => {
  h = await startHarness({ minConcurrentCount: 1, maxConcurrentCount: 2, channelCount: 2 });
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const c0 = await h.connect(a.instanceId, a.token, 0);
  await h.connect(a.instanceId, a.token, 1);
  await settle();
  assert.equal(h.dispatcher.status().inFlight, 1);
  c0.ws!.send(load(0.99)); // 2 → 1: the request it has is its whole limit now
  await settle();
  h.enqueueGet(1);
  await settle();
  const s = h.dispatcher.status();
  assert.equal(s.concurrency[0]!.limit, 1);
  assert.deepEqual([s.inFlight, s.pending], [1, 1], 'the second request waits though a channel is free');
});

test('channels follow the limit up: an extension that follows is asked for limit + 2 as it rises, never fewer', async () => {
  h = await startHarness({ minConcurrentCount: 1, maxConcurrentCount: 16, channelCount: 16 });
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  assert.deepEqual([a.channels, a.openChannels], [16, 12], 'invoked to open limit 10 + 2 of at most 16');
  const follows = { features: 'channels' };
  const c0 = await h.connect(a.instanceId, a.token, 0, follows);
  const c11 = await h.connect(a.instanceId, a.token, 11, follows);
  await settle();
  // Falling (10 → 7): the 12 held stay, no frame.
  c0.ws!.send(load(0.95));
  await settle();
  assert.deepEqual(h.dispatcher.status().concurrency.map((c) => c.limit), [7]);
  assert.equal([...c0.frames, ...c11.frames].filter((f) => f.type === 'channels').length, 0);
  // Rising past the initial 10 once the cut's cool-down is over (7 → 8 → 9 → 11: hold 13).
  for (let i = 0; i < 3; i++) {
    h.clock.now += 3000;
    busy(h, 0);
    c0.ws!.send(encodeFrame({ type: 'load', load: { elu: 0.05, cpu: 0.05, requests: 10, intervalMs: 1000 } }));
    await settle();
  }
  const [c] = h.dispatcher.status().concurrency;
  assert.equal(c!.limit, 11);
  const told = [...c0.frames, ...c11.frames].filter((f) => f.type === 'channels');
  assert.deepEqual(told, [{ type: 'channels', count: 13 }], 'one CHANNELS frame, when limit + 2 passed the 12 held, on one channel');
  assert.ok(c0.frames.some((f) => f.type === 'channels'));
  // A channel beyond the count that opens (a late one, or one reopened) is told again on itself.
  const late = await h.connect(a.instanceId, a.token, 13, follows);
  await settle();
  assert.deepEqual(late.frames, [{ type: 'channels', count: 13 }]);
});

test('an extension that does not follow is never sent CHANNELS', async () => {
  h = await startHarness({ minConcurrentCount: 1, maxConcurrentCount: 16, channelCount: 16 });
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const c0 = await h.connect(a.instanceId, a.token, 0);
  const c13 = await h.connect(a.instanceId, a.token, 13);
  await settle();
  c0.ws!.send(load(0.95));
  await settle();
  assert.deepEqual(h.dispatcher.status().concurrency.map((c) => c.limit), [7]);
  assert.equal([...c0.frames, ...c13.frames].filter((f) => f.type === 'channels').length, 0);
});
