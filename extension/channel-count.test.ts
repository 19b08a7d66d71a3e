// The channels an invocation holds follow what the router asks (CHANNELS frames, docs/PROTOCOL.md):
// it opens `openChannels` at first and announces that it follows, opens the missing ones when
// asked for more, closes those numbered beyond once their request has ended when asked for fewer,
// and still ends its invocation cleanly when the router lets it go.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { demoApp } from '../demo/app.ts';
import { FEATURES_HEADER } from '../core/protocol.ts';
import { closeLocalServers, createHandler } from './handler.ts';
import { contextFor, TestRouter } from './test-router.ts';

after(() => closeLocalServers());

test('opens openChannels, grows and shrinks as told, a busy channel finishes its request first', async () => {
  const router = await new TestRouter().start();
  const features: string[] = [];
  try {
    const run = createHandler(demoApp, { log: () => {}, accessLogSample: 0 })(router.payload({ channels: 6, openChannels: 2, maxConcurrent: 6 }), contextFor(60_000));
    const first = await router.open(2);
    assert.deepEqual(first.map((c) => c.index), [0, 1]);
    assert.equal(router.channels.length, 0, 'no more than openChannels at first');
    for (const c of first) features.push(String(c.hello[FEATURES_HEADER]));
    assert.ok(features.every((f) => f.split(', ').includes('channels')), features.join(' | '));

    first[0]!.send({ type: 'channels', count: 5 });
    const more = await router.open(3);
    assert.deepEqual(more.map((c) => c.index), [2, 3, 4]);

    // Channel 3 is busy with a slow request when the count falls to 2: it answers, then closes.
    more[1]!.request(7, 'GET', '/delay?ms=300');
    first[1]!.send({ type: 'channels', count: 2 });
    await more[0]!.closed;
    await more[2]!.closed;
    const slow = await more[1]!.response(7);
    assert.equal(slow.status, 200);
    await more[1]!.closed;

    // Asked for more again, the closed indices open anew; the ones kept never closed.
    first[0]!.send({ type: 'channels', count: 4 });
    const again = await router.open(2);
    assert.deepEqual(again.map((c) => c.index), [2, 3]);
    // Asked beyond `channels`, it holds `channels`.
    first[0]!.send({ type: 'channels', count: 60 });
    const top = await router.open(2);
    assert.deepEqual(top.map((c) => c.index), [4, 5]);

    const held = [...first, ...again, ...top];
    for (const c of held) c.send({ type: 'goaway' });
    const result = await run;
    assert.equal(result.exitReason, 'goaway');
    assert.equal(router.channels.length, 0, 'no channel beyond those asked for');
  } finally {
    await router.close();
  }
});
