// Multiplexed channels, through the whole system (router, local Lambda, real extension): several
// requests ride one channel at once, and since no end can stop reading a shared channel for one
// request, each request's body is paced by its own credit: a client that reads nothing holds back
// its own response and nothing else on the channel, an upload still arrives whole, and every
// count returns to zero. With LAMBDA_DISPATCH_Multiplex=false the channel carries one at a time.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { call, startStack, waitFor, type Stack } from './stack.ts';

let stack: Stack;

before(async () => {
  // One instance, so that every request meets the same channels.
  stack = await startStack({ routerEnv: { LAMBDA_DISPATCH_MaxInstances: '1', LAMBDA_DISPATCH_MinInstances: '1' } });
  await waitFor(() => stack.router.status(), (s) => s.instances.open === 1, 20_000);
});

after(async () => {
  await stack?.close();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('concurrent requests share one channel, and every answer is its own', async () => {
  const base = stack.router.url;
  const pending = Array.from({ length: 8 }, (_, i) => call(base, `/delay?ms=${600 + i}`));
  const during = await waitFor(() => stack.router.status(), (s) => s.inFlight === 8, 10_000);
  assert.equal(during.inFlight, 8, 'all eight are in flight at once');
  assert.ok(during.channels.multiplexed >= 1, `multiplexed channels: ${during.channels.multiplexed}`);
  const busiest = Math.max(...during.concurrency.map((c) => c.busiestChannel));
  assert.ok(busiest >= 2, `one channel carries several requests at once (busiest: ${busiest})`);
  const replies = await Promise.all(pending);
  replies.forEach((r, i) => {
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `delayed ${600 + i}`);
  });
});

test('a client that reads nothing holds back only its own response; it still arrives whole', async () => {
  const base = stack.router.url;
  const size = 24 * 1024 * 1024;
  // The stalled client: its socket is paused from the first byte, far more than a window is asked.
  let received = 0;
  let resume: () => void = () => {};
  const stalled = new Promise<{ status: number; bytes: number }>((resolve, reject) => {
    const req = request(new URL(`/bytes?n=${size}`, base), (res) => {
      res.pause();
      resume = () => {
        res.on('data', (c: Buffer) => (received += c.length));
        res.resume();
      };
      res.on('end', () => resolve({ status: res.statusCode!, bytes: received }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  await waitFor(() => stack.router.status(), (s) => s.inFlight === 1, 10_000);
  // While it stalls, requests on the same channel come and go, bodies both ways included.
  const upload = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < upload.length; i++) upload[i] = (i * 31 + 7) & 0xff;
  const others = await Promise.all([
    ...Array.from({ length: 20 }, () => call(base, '/ping')),
    call(base, '/echo', { method: 'POST', body: upload }),
  ]);
  for (const r of others.slice(0, 20)) assert.deepEqual([r.status, r.body.toString()], [200, 'pong']);
  const echoed = others[20]!;
  assert.equal(echoed.status, 200);
  assert.equal(echoed.body.length, upload.length);
  assert.equal(sha(echoed.body), sha(upload), 'the upload came back byte for byte');
  const s = await stack.router.status();
  assert.equal(s.inFlight, 1, 'only the stalled download is still in flight');
  assert.ok(Math.max(...s.concurrency.map((c) => c.busiestChannel)) <= 1);
  resume();
  const done = await stalled;
  assert.equal(done.status, 200);
  assert.equal(done.bytes, size, 'the stalled download arrived whole');
  const idle = await waitFor(() => stack.router.status(), (x) => x.inFlight === 0 && x.pending === 0 && x.channels.busy === 0);
  assert.deepEqual([idle.inFlight, idle.pending, idle.channels.busy], [0, 0, 0]);
});

test('LAMBDA_DISPATCH_Multiplex=false: one request a channel, as before', async () => {
  const plain = await startStack({ routerEnv: { LAMBDA_DISPATCH_MaxInstances: '1', LAMBDA_DISPATCH_MinInstances: '1', LAMBDA_DISPATCH_Multiplex: 'false' } });
  try {
    await waitFor(() => plain.router.status(), (s) => s.instances.open === 1, 20_000);
    const pending = Array.from({ length: 6 }, () => call(plain.router.url, '/delay?ms=500'));
    const during = await waitFor(() => plain.router.status(), (s) => s.inFlight === 6, 10_000);
    assert.equal(during.inFlight, 6);
    assert.equal(during.channels.multiplexed, 0);
    assert.equal(Math.max(...during.concurrency.map((c) => c.busiestChannel)), 1);
    for (const r of await Promise.all(pending)) assert.equal(r.status, 200);
  } finally {
    await plain.close();
  }
});
