// Shutdown in the dispatcher: on SIGTERM ingress takes nothing new and tells the dispatcher at once
// (beginShutdown). What already waits is still served while an instance can serve it; nothing new
// starts; once the queue is empty every instance gets GOAWAY as its channels go idle.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { WebSocket } from 'ws';
import { encodeFrame } from '../frames.ts';
import { Rec } from '../records.ts';
import { settle, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ minConcurrentCount: 1, maxConcurrentCount: 1, channelCount: 1 });
});
afterEach(() => h.close());

function answer(ws: WebSocket, id: number): void {
  ws.send(encodeFrame({ type: 'res-head', id, head: { status: 200, headers: [] }, end: true, body: null }));
}

test('a queued request is still served during the drain; no instance starts; then GOAWAY', async () => {
  h.enqueueGet(0);
  assert.equal(h.invokes.length, 1);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0);
  await settle();
  // One channel, busy; a second request waits.
  h.enqueueGet(1);
  assert.equal(h.dispatcher.status().pending, 1);
  h.drainRing();

  const started = h.invokes.length;
  h.dispatcher.beginShutdown();
  // Past several scale-out intervals, within the queue timeout (10 s).
  for (let i = 0; i < 4; i++) {
    h.clock.now += 2100;
    h.dispatcher.tick();
  }
  assert.equal(h.invokes.length, started, 'nothing new starts during the drain');
  assert.equal(h.dispatcher.status().pending, 1, 'the waiting request was not refused');
  assert.deepEqual(h.drainRing(), []);

  // The busy request ends: the waiting one gets the channel.
  answer(a0.ws!, (a0.frames[0] as { id: number }).id);
  await settle();
  assert.deepEqual(a0.frames.map((f) => f.type), ['req-head', 'req-head']);
  assert.equal(h.dispatcher.status().pending, 0);
  h.dispatcher.tick();
  answer(a0.ws!, (a0.frames[1] as { id: number }).id);
  await settle();
  assert.deepEqual(a0.frames.map((f) => f.type), ['req-head', 'req-head', 'goaway'], 'GOAWAY once idle');
  assert.deepEqual(h.drainRing(), [Rec.RES_HEAD, Rec.RES_END, Rec.RES_HEAD, Rec.RES_END]);
  assert.equal(h.dispatcher.status().requests.served, 2);

  // Once the queue has emptied, anything that still reaches the dispatcher is refused.
  h.enqueueGet(2);
  assert.deepEqual(h.drainRing(), [Rec.RES_ERROR]);
  assert.equal(h.invokes.length, started);
});

test('with nothing that could serve it, a waiting request gets 503 at once', async () => {
  h.enqueueGet(0);
  h.invokes[0]!.end({ kind: 'throttled', message: 'Rate Exceeded.' });
  await settle();
  assert.equal(h.dispatcher.status().pending, 1);
  h.dispatcher.beginShutdown();
  assert.deepEqual(h.drainRing(), [Rec.RES_ERROR]);
  assert.equal(h.dispatcher.status().pending, 0);
});

test('an idle router drains its instances at once', async () => {
  h.enqueueGet(0);
  const a = h.invokes[0]!.payload;
  const a0 = await h.connect(a.instanceId, a.token, 0);
  await settle();
  answer(a0.ws!, (a0.frames[0] as { id: number }).id);
  await settle();
  h.dispatcher.beginShutdown();
  await settle();
  assert.deepEqual(a0.frames.map((f) => f.type), ['req-head', 'goaway']);
  assert.equal(h.dispatcher.status().instances.draining, 1);
});
