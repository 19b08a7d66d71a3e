// The extension tells a router that announced `load` how busy its environment is, once a second,
// and tells an older router nothing.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { demoApp } from '../demo/app.ts';
import { closeLocalServers, createHandler } from './handler.ts';
import { LoadReporter } from './load-reporter.ts';
import { contextFor, TestRouter } from './test-router.ts';

after(() => closeLocalServers());

async function reportsFrom(features: readonly string[] | undefined, waitMs: number) {
  const router = await new TestRouter(features !== undefined ? { features } : {}).start();
  try {
    const run = createHandler(demoApp, { log: () => {} })(router.payload({ channels: 2, maxConcurrent: 2 }), contextFor(120_000));
    const channels = await router.open(2);
    for (let i = 1; i <= 5; i++) {
      channels[0]!.request(i, 'GET', '/ping');
      await channels[0]!.response(i);
    }
    await new Promise((r) => setTimeout(r, waitMs));
    for (const ch of channels) ch.send({ type: 'goaway' });
    await run;
    return channels.map((ch) => ch.loads);
  } finally {
    await router.close();
  }
}

test('a router that announced `load` gets a report a second, on one channel, counting the requests', async () => {
  const [first, second] = await reportsFrom(undefined, 2300);
  const all = [...first!, ...second!];
  assert.ok(all.length >= 1 && all.length <= 4, `${all.length} reports in ~2.3 s`);
  assert.ok(first!.length === 0 || second!.length === 0, 'one channel carries them');
  assert.equal(all.reduce((n, l) => n + l.requests, 0), 5, 'every finished request is in exactly one report');
  for (const l of all) {
    assert.ok(l.elu >= 0 && l.elu <= 1, `elu ${l.elu}`);
    assert.ok(l.cpu >= 0, `cpu ${l.cpu}`);
    assert.ok(l.intervalMs >= 900 && l.intervalMs < 5000, `interval ${l.intervalMs}`);
  }
});

test('an older router (no `load` feature) is sent none', async () => {
  const loads = await reportsFrom(['info', 'trailers', 'reason'], 1300);
  assert.deepEqual(loads, [[], []]);
});

test('with no channel to take it, the window keeps growing until one does', () => {
  let accept = false;
  const sent: number[] = [];
  let requests = 0;
  const r = new LoadReporter((l) => (accept ? (sent.push(l.requests), true) : false), () => requests, 60_000);
  requests = 3;
  r.tick();
  requests = 7;
  accept = true;
  r.tick();
  r.stop();
  assert.deepEqual(sent, [7]);
});
