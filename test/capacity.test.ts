// Capacity on the whole stack: bursts absorbed by warm environments, instances replaced before
// their deadline, throttles and unreachable routers that never become invoke loops, and an
// environment killed mid-request. Figures are printed as `# …` lines for the issue notes.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { startStack, waitFor, type Stack } from './stack.ts';

interface Outcome {
  status: number;
  ms: number;
  body: string;
}

function get(base: string, path: string, timeoutMs = 60_000): Promise<Outcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(new URL(path, base), { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - t0, body }));
      res.on('error', () => resolve({ status: -1, ms: performance.now() - t0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', () => resolve({ status: -1, ms: performance.now() - t0, body: '' }));
    req.end();
  });
}

/** `clients` closed-loop clients requesting `path` until `durationMs` has passed. */
async function closedLoop(base: string, path: string, clients: number, durationMs: number): Promise<Outcome[]> {
  const until = Date.now() + durationMs;
  const all: Outcome[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) all.push(await get(base, path));
    }),
  );
  return all;
}

const quiet = (s: { pending: number; inFlight: number; channels: { busy: number } }) => s.pending === 0 && s.inFlight === 0 && s.channels.busy === 0;

async function withStack(opts: Parameters<typeof startStack>[0], body: (s: Stack) => Promise<void>): Promise<void> {
  const stack = await startStack(opts);
  try {
    await body(stack);
  } finally {
    await stack.close();
  }
}

test('a burst from 0 to 100 concurrent requests is absorbed with few waits on a cold start', async () => {
  await withStack(
    {
      lambda: { initMs: 1000, concurrency: 40 },
      routerEnv: { LAMBDA_DISPATCH_ScaleInIntervalMs: '500' },
    },
    async ({ router }) => {
      const results = await closedLoop(router.url, '/delay?ms=50', 100, 8000);
      const errors = results.filter((r) => r.status !== 200).length;
      const coldWaits = results.filter((r) => r.ms >= 1000).length;
      const s = await router.status();
      console.log(`# burst: ${results.length} requests, ${errors} errors, ${coldWaits} waited ≥ 1 cold start (1000 ms), ${s.invokes.started} invokes`);
      assert.equal(errors, 0);
      // The burst is absorbed: far more than the first wave was served. How many waited a whole cold
      // start depends on how busy the machine is (CPU contention slows requests past 1 s too), so that
      // share is measured by the bench's burst scenario, not asserted here.
      assert.ok(results.length > 200, `${results.length} requests in 8 s`);
      // After the load: back to MinInstances (0) and every counter at zero.
      const idle = await waitFor(
        () => router.status(),
        (st) => quiet(st) && st.instances.open + st.instances.starting + st.instances.draining + st.instances.closing === 0,
        20_000,
      );
      assert.ok(quiet(idle), JSON.stringify(idle));
      assert.deepEqual(idle.instances, { starting: 0, open: 0, draining: 0, closing: 0 });
    },
  );
});

test('instances reaching their timeout are replaced with no failed request', async () => {
  await withStack({ lambda: { timeoutS: 10 } }, async ({ router }) => {
    const results = await closedLoop(router.url, '/delay?ms=50', 10, 40_000);
    const failed = results.filter((r) => r.status !== 200);
    const s = await router.status();
    console.log(`# deadline: ${results.length} requests over 40 s with a 10 s function timeout, ${failed.length} failed, ${s.invokes.started} invokes, failures ${JSON.stringify(s.invokes.failuresByKind)}`);
    assert.deepEqual(failed, []);
    assert.ok(s.invokes.started >= 4, `at least three generations replaced (${s.invokes.started} invokes)`);
    // On a loaded machine an environment can miss its own deadline by a few ms (the function
    // timeout then ends it) or a replacement's connect can time out; neither may cost a request,
    // and they stay rare.
    assert.ok(s.invokes.failed <= 2, `invoke failures ${JSON.stringify(s.invokes.failuresByKind)}`);
  });
});

test('at a concurrency limit of 2 the invoke rate stays bounded and every request is answered', async () => {
  await withStack({ lambda: { concurrency: 2 }, routerEnv: { LAMBDA_DISPATCH_IncomingRequestTimeout: '20' } }, async ({ router, lambda }) => {
    // 100 clients want ~24 instances of 5 requests each; only 2 environments may exist.
    const results = await closedLoop(router.url, '/delay?ms=50', 100, 10_000);
    const byStatus = new Map<number, number>();
    for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    const s = await router.status();
    const l = lambda.ledger();
    console.log(
      `# throttle: ${results.length} requests in 10 s (${JSON.stringify(Object.fromEntries(byStatus))}), ` +
        `${s.invokes.started} invokes, ${l.throttles} throttled`,
    );
    for (const status of byStatus.keys()) assert.ok(status === 200 || status === 503, `status ${status}`);
    assert.ok(s.invokes.started <= 30, `${s.invokes.started} invokes in 10 s`);
    assert.ok((byStatus.get(200) ?? 0) > results.length / 2);
    assert.ok(quiet(await waitFor(() => router.status(), quiet)));
  });
});

test('a function that cannot reach the router is invoked with backoff, not in a loop', async () => {
  // 127.0.0.2 is loopback with nothing listening: every callback is refused at once.
  await withStack(
    { routerEnv: { LAMBDA_DISPATCH_RouterCallbackHost: '127.0.0.2', LAMBDA_DISPATCH_IncomingRequestTimeout: '5' } },
    async ({ router }) => {
      const t0 = Date.now();
      const first = await get(router.url, '/ping');
      assert.ok(first.status === 503 || first.status === 504, `status ${first.status}`);
      // Keep demand up for 30 s, as clients of a broken deployment would.
      const results = await closedLoop(router.url, '/ping', 5, 30_000 - (Date.now() - t0));
      const s = await router.status();
      console.log(`# unreachable router: ${s.invokes.started} invokes in 30 s (${results.length + 1} requests, all 503/504), failures ${JSON.stringify(s.invokes.failuresByKind)}`);
      assert.ok(results.every((r) => r.status === 503 || r.status === 504));
      assert.ok(s.invokes.started <= 15, `${s.invokes.started} invokes in 30 s`);
      assert.ok((s.invokes.failuresByKind['connect-failed'] ?? 0) >= 1);
    },
  );
});

test('killing an environment mid-request gives a retried success or a 502, and counters stay right', async () => {
  await withStack({}, async ({ router, lambda }) => {
    const who = JSON.parse((await get(router.url, '/whoami')).body) as { env: string };
    const envId = /env-\d+/.exec(who.env)?.[0];
    assert.ok(envId, `environment id in ${who.env}`);
    const slow = get(router.url, '/delay?ms=3000');
    await waitFor(() => router.status(), (s) => s.inFlight === 1, 5000);
    assert.equal(lambda.killEnvironment(envId), true);
    const r = await slow;
    assert.ok(r.status === 200 || r.status === 502, `status ${r.status}`);
    const s = await waitFor(() => router.status(), quiet, 10_000);
    assert.ok(quiet(s), JSON.stringify(s));
    console.log(`# kill: client got ${r.status}; retried ${s.requests.retried}, failed ${s.requests.failed}`);
    assert.equal(r.status === 200 ? s.requests.retried : s.requests.failed, 1);
    assert.equal((await get(router.url, '/ping')).body, 'pong');
  });
});
