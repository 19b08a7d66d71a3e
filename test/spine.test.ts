// Whole-system tests of the router spine: client → ingress → rings → dispatcher thread →
// WebSocket channels → extension → demo app, on a local Lambda invoked through the real SDK.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { call, startStack, waitFor, type Stack } from './stack.ts';

const settled = (s: { pending: number; inFlight: number; channels: { busy: number } }) =>
  s.pending === 0 && s.inFlight === 0 && s.channels.busy === 0;

describe('router spine', () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    stack = await startStack();
    base = stack.router.url;
  });
  after(async () => {
    await stack.close();
  });

  test('GET /ping is answered by a local Lambda execution environment', async () => {
    const r = await call(base, '/ping');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'pong');
    const who = JSON.parse((await call(base, '/whoami')).body.toString()) as { env: string };
    assert.match(who.env, /\$LATEST/, 'served inside a local Lambda environment, not in the router');
  });

  test('health on the client port, status only on the admin port; neither is dispatched', async () => {
    const before = await stack.router.status();
    const health = await call(base, '/_lambda_dispatch/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.toString(), 'ok\n');
    const status = await call(stack.router.adminUrl, '/_lambda_dispatch/status');
    assert.equal(status.status, 200);
    const s = JSON.parse(status.body.toString());
    for (const key of ['instances', 'pending', 'inFlight', 'invokes', 'requests', 'ingress']) assert.ok(key in s, `status has ${key}`);
    assert.equal(typeof s.instances.open, 'number');
    // Both threads' heaps: the dispatcher reports its own isolate.
    const mem = s.ingress.memory;
    assert.ok(mem.byThread.dispatcher.heapUsedBytes > 0 && mem.byThread.ingress.heapUsedBytes > 0);
    assert.equal(mem.heapUsedBytes, mem.byThread.ingress.heapUsedBytes + mem.byThread.dispatcher.heapUsedBytes);
    assert.equal((await call(stack.router.adminUrl, '/_lambda_dispatch/health')).status, 200);
    assert.equal((await call(stack.router.adminUrl, '/_lambda_dispatch/nothing')).status, 404);
    const afterwards = await stack.router.status();
    assert.equal(afterwards.requests.served, before.requests.served, 'health and status are not dispatched');
  });

  test('on the client port only health is the router\'s: status and the rest of /_lambda_dispatch/ go to the app', async () => {
    const before = (await stack.router.status()).requests.served;
    const status = await call(base, '/_lambda_dispatch/status');
    assert.equal(status.status, 404, 'the demo app does not know the path');
    assert.equal(status.headers['x-lambda-dispatch-error'], undefined, 'the app answered, not the router');
    assert.doesNotMatch(status.body.toString(), /instances/);
    assert.equal((await stack.router.status()).requests.served, before + 1, 'dispatched like any path');
  });

  test('200 concurrent requests are all answered, several at once by one environment', async () => {
    const ms = 400;
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => call(base, `/whoami?ms=${ms}&i=${i}`)));
    const byEnv = new Map<string, number[]>();
    for (const r of replies) {
      assert.equal(r.status, 200, `${r.headers['x-lambda-dispatch-error'] ?? 'from the app'}: ${r.body.toString()}`);
      const w = JSON.parse(r.body.toString()) as { env: string; time: string };
      byEnv.set(w.env, [...(byEnv.get(w.env) ?? []), Date.parse(w.time)]);
    }
    assert.ok(byEnv.size < 200, `fewer environments (${byEnv.size}) than requests`);
    // Two answers from one environment less than `ms` apart were being served at the same time.
    const overlapping = [...byEnv.values()].some((times) => {
      times.sort((a, b) => a - b);
      return times.some((t, i) => i > 0 && t - times[i - 1]! < ms);
    });
    assert.ok(overlapping, 'some environment served requests concurrently');
    const s = await waitFor(() => stack.router.status(), settled);
    assert.ok(settled(s), `settled after the load: ${JSON.stringify(s)}`);
  });

  test('repeated set-cookie headers stay separate', async () => {
    const r = await call(base, '/cookies');
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  });

  test('hop-by-hop headers are not relayed and forwarding headers are set', async () => {
    const r = await call(base, '/headers', {
      headers: { connection: 'keep-alive, x-private', 'x-private': 'secret', 'keep-alive': 'timeout=5', 'proxy-authorization': 'Basic x', 'x-end-to-end': 'yes' },
    });
    const seen = JSON.parse(r.body.toString()) as Record<string, string>;
    assert.equal(seen['x-end-to-end'], 'yes');
    assert.equal(seen['x-private'], undefined);
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.match(seen['x-forwarded-host'] ?? '', /^127\.0\.0\.1:\d+$/);
    for (let i = 0; i < r.rawHeaders.length; i += 2) {
      assert.doesNotMatch(r.rawHeaders[i]!, /lambda-dispatch|instance|channel/i, 'no internal ids in responses');
    }
  });

  test('status codes and bodies of every size come back unchanged', async () => {
    assert.equal((await call(base, '/status?code=418')).status, 418);
    assert.equal((await call(base, '/status?code=204')).status, 204);
    assert.equal((await call(base, '/nope')).status, 404);
    for (const n of [0, 1, 1000, 70_000, 3_000_000]) {
      const r = await call(base, `/bytes?n=${n}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.length, n);
    }
    const body = Buffer.alloc(200_000, 'x');
    const echo = await call(base, '/echo', { method: 'POST', body, headers: { 'content-type': 'text/x-test' } });
    assert.equal(echo.headers['content-type'], 'text/x-test');
    assert.ok(echo.body.equals(body));
  });

  test('a huge request head gets 431 and nothing is dispatched', async () => {
    // Count from a quiet router: a request of an earlier test may still be finishing.
    const before = (await waitFor(() => stack.router.status(), settled)).requests.served;
    const r = await call(base, '/ping', { headers: { 'x-big': 'x'.repeat(64 * 1024) } });
    assert.equal(r.status, 431);
    assert.equal((await stack.router.status()).requests.served, before);
    assert.equal((await call(base, '/ping')).body.toString(), 'pong');
  });

  test('a client that aborts mid-response frees its channel', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(new URL('/bytes?n=200000000', base), (res) => {
        let got = 0;
        res.on('data', (c: Buffer) => {
          got += c.length;
          if (got > 1_000_000) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
      req.end();
    });
    const s = await waitFor(() => stack.router.status(), settled);
    assert.ok(settled(s), `channel freed after the abort: ${JSON.stringify(s)}`);
    assert.ok(s.requests.aborted >= 1);
    assert.equal((await call(base, '/ping')).body.toString(), 'pong');
  });

  test('a slow reader gets every byte and leaves the router healthy', async () => {
    const n = 8_000_000;
    const got = await new Promise<number>((resolve, reject) => {
      const req = request(new URL(`/bytes?n=${n}`, base), (res) => {
        let total = 0;
        res.pause();
        // Read in small sips so the response window fills and the channel must pause.
        const sip = setInterval(() => {
          let c: Buffer | null;
          let taken = 0;
          while (taken < 512 * 1024 && (c = res.read()) !== null) taken += c.length;
          total += taken;
        }, 20);
        res.on('end', () => {
          clearInterval(sip);
          resolve(total);
        });
        res.on('readable', () => {});
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(got, n);
    const s = await waitFor(() => stack.router.status(), settled);
    assert.ok(settled(s));
    assert.equal((await call(base, '/_lambda_dispatch/health')).status, 200);
  });
});
