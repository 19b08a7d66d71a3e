// Several functions behind one router (LAMBDA_DISPATCH_Routes), the whole stack: three local
// Lambdas behind one Lambda endpoint (infra/local/function-front.ts), the real SDK, and a router
// that sends /orders and /images to two functions by path and a third only to an allow-listed
// value of the x-fn header. Anything else gets 404 from the router, and each function has its
// own pool, settings and scaling. A container worker serves the function its handshake names.
//   node --import tsx --test test/multi-function.test.ts

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheus from 'parse-prometheus-text-format';
import WebSocket from 'ws';
import { fileURLToPath } from 'node:url';
import { loadRouterConfig } from '../core/config.ts';
import type { StatusSnapshot } from '../core/dispatcher/status.ts';
import { startWorker } from '../extension/worker.ts';
import { startRouter, type Router } from '../ingress/router.ts';
import { createLogger } from '../ingress/telemetry/logger.ts';
import { startFunctionFront, type FunctionFront } from '../infra/local/function-front.ts';
import { startLocalLambda, type LocalLambda } from '../infra/local/lambda-service.ts';
import { call, waitFor } from './stack.ts';

const WHOAMI = fileURLToPath(new URL('./fixtures/whoami-function.ts', import.meta.url));
const NAMES = ['orders-fn', 'images-fn', 'beta-fn'] as const;

const ROUTES = {
  functions: [
    // One request at a time per instance: a burst needs several instances.
    { name: 'orders', functionName: 'orders-fn', settings: { MinConcurrentCount: 1, MaxConcurrentCount: 1 } },
    { name: 'images', functionName: 'images-fn', settings: { MaxConcurrentCount: 8 } },
    { name: 'beta', functionName: 'beta-fn' },
  ],
  routes: [
    { pathPrefix: '/orders', function: 'orders' },
    { pathPrefix: '/images', function: 'images' },
  ],
  header: { name: 'x-fn', allow: { 'beta-2026': 'beta' } },
};

const WORKER_SECRET = 'a-worker-secret-of-enough-length-0123456789';

const lambdas = new Map<string, LocalLambda>();
let front: FunctionFront;
let router: Router;
/** The router's diagnostics and lifecycle events as text. */
const lines: string[] = [];

before(async () => {
  for (const name of NAMES) {
    lambdas.set(name, await startLocalLambda({ functionName: name, handlerModule: WHOAMI, concurrency: 8, timeoutS: 60, memoryMb: 256, initMs: 0, env: { LAMBDA_DISPATCH_AccessLogSample: '0' } }));
  }
  front = await startFunctionFront(Object.fromEntries([...lambdas].map(([name, l]) => [name, l.url])));
  process.env.AWS_ACCESS_KEY_ID = 'local';
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const config = loadRouterConfig({
    LAMBDA_DISPATCH_Routes: JSON.stringify(ROUTES),
    LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
    LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0',
    LAMBDA_DISPATCH_AdminPort: '0',
    LAMBDA_DISPATCH_WorkerSecret: WORKER_SECRET,
    AWS_ENDPOINT_URL_LAMBDA: front.url,
  });
  router = await startRouter({ config, bindHost: '127.0.0.1', log: (l) => lines.push(l), logger: createLogger('silent') });
});

after(async () => {
  await router?.close(5000);
  await front?.close();
  for (const l of lambdas.values()) await l.close();
});

async function who(path: string, headers: Record<string, string> = {}): Promise<{ status: number; fn?: string; error?: string }> {
  const r = await call(router.url, path, { headers });
  if (r.status !== 200) return { status: r.status, error: String(r.headers['x-lambda-dispatch-error']) };
  return { status: r.status, fn: (JSON.parse(r.body.toString()) as { fn: string }).fn };
}

/** Every request a dispatcher has taken: answered, failed, refused, or still under way. */
function taken(s: StatusSnapshot): number {
  const r = s.requests;
  return r.served + r.failed + r.timedOut + r.rejected + r.aborted + s.pending + s.inFlight;
}

function ofFunction(s: StatusSnapshot, name: string): StatusSnapshot {
  const f = s.functions?.find((x) => x.name === name);
  assert.ok(f, `status has function ${name}`);
  return f.status;
}

test('requests reach the function their path routes them to, or the allow-listed header names', async () => {
  assert.deepEqual(await who('/orders/17'), { status: 200, fn: 'orders-fn' });
  assert.deepEqual(await who('/images/cat.png'), { status: 200, fn: 'images-fn' });
  // The header decides alone when present.
  assert.deepEqual(await who('/orders/17', { 'x-fn': 'beta-2026' }), { status: 200, fn: 'beta-fn' });
  assert.deepEqual(await who('/anything', { 'x-fn': 'beta-2026' }), { status: 200, fn: 'beta-fn' });
});

test('an unknown route gets 404 from the router, and no header value off the allow-list reaches any function', async () => {
  const before = await router.status();
  assert.deepEqual(await who('/'), { status: 404, error: 'LD_NO_ROUTE' });
  assert.deepEqual(await who('/ordersX'), { status: 404, error: 'LD_NO_ROUTE' });
  for (const value of ['beta', 'beta-fn', 'orders', 'orders-fn', 'images', 'BETA-2026', '']) {
    assert.deepEqual(await who('/orders/1', { 'x-fn': value }), { status: 404, error: 'LD_NO_ROUTE' }, `x-fn: ${JSON.stringify(value)}`);
  }
  // A WebSocket upgrade is routed like a request: none for it, the same answer.
  const refused = await new Promise<{ status: number; error: string }>((resolve, reject) => {
    const ws = new WebSocket(`${router.url.replace(/^http/, 'ws')}/`);
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, error: String(res.headers['x-lambda-dispatch-error']) }));
    ws.once('open', () => reject(new Error('an unrouted upgrade opened')));
    ws.once('error', () => {});
  });
  assert.deepEqual(refused, { status: 404, error: 'LD_NO_ROUTE' });
  // None of those reached a dispatcher: no function counted a request.
  const after = await router.status();
  for (const name of ['orders', 'images', 'beta']) {
    assert.equal(taken(ofFunction(after, name)), taken(ofFunction(before, name)), `${name} took nothing`);
  }
});

test('each function has its own pool, settings and scaling: a burst on one starts instances of that one only', async () => {
  const held = Array.from({ length: 6 }, (_, i) => who(`/orders/hold?ms=3000&i=${i}`));
  const s = await waitFor(
    () => router.status(),
    (st) => {
      const o = ofFunction(st, 'orders').instances;
      return o.open + o.starting >= 3;
    },
    20_000,
  );
  const orders = ofFunction(s, 'orders');
  assert.ok(orders.instances.open + orders.instances.starting >= 3, `orders scaled out: ${JSON.stringify(orders.instances)}`);
  // Its own learned-limit bounds: one request per instance.
  for (const c of orders.concurrency) assert.equal(c.limit, 1);
  const images = ofFunction(s, 'images');
  assert.ok(images.instances.open + images.instances.starting <= 1, `images did not follow: ${JSON.stringify(images.instances)}`);
  for (const c of images.concurrency) assert.ok(c.limit > 1, 'images keeps its own limit');
  assert.equal(ofFunction(s, 'beta').instances.starting, 0);
  for (const r of await Promise.all(held)) assert.deepEqual(r, { status: 200, fn: 'orders-fn' });
  // The router's totals are the functions' sums.
  const end = await router.status();
  assert.ok(ofFunction(end, 'orders').requests.served >= 7);
  assert.equal(end.requests.served, ['orders', 'images', 'beta'].reduce((n, f) => n + ofFunction(end, f).requests.served, 0));
  // Every invoke went to the function its fleet is for: the orders Lambda ran several environments.
  assert.ok(lambdas.get('orders-fn')!.stats().environments.length >= 2);
  // The lifecycle events say whose they are.
  assert.ok(lines.some((l) => /^function orders: scaling \d+ → \d+/.test(l)), lines.join('\n'));
  assert.ok(!lines.some((l) => /^(instance|scaling) /.test(l)), 'no event without its function');
  // /metrics has each function's own series beside the sums, equal to its status (read before and
  // after the scrape: an idle instance may be released in between).
  const s1 = await router.status();
  const families = parsePrometheus(await (await fetch(`${router.adminUrl}/metrics`)).text()) as { name: string; metrics: { value: string; labels?: Record<string, string> }[] }[];
  const s2 = await router.status();
  const series = (name: string, labels: Record<string, string>) =>
    Number(families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);
  const within = (v: number, a: number, b: number, what: string) => assert.ok(v >= Math.min(a, b) && v <= Math.max(a, b), `${what}: ${v} not within ${a}…${b}`);
  for (const name of ['orders', 'images', 'beta']) {
    const [f1, f2] = [ofFunction(s1, name), ofFunction(s2, name)];
    within(series('lambda_dispatch_function_request_outcomes_total', { function: name, outcome: 'served' }), f1.requests.served, f2.requests.served, `${name} served`);
    within(series('lambda_dispatch_function_invokes_total', { function: name }), f1.invokes.started, f2.invokes.started, `${name} invokes`);
    within(series('lambda_dispatch_function_instances', { function: name, state: 'open' }), f1.instances.open, f2.instances.open, `${name} open instances`);
  }
  assert.ok(series('lambda_dispatch_function_invokes_total', { function: 'orders' }) >= 3, 'the orders burst started instances');
  within(series('lambda_dispatch_invokes_total', {}), s1.invokes.started, s2.invokes.started, 'the unlabelled series is the sum');
});

test('a container worker serves the function it names, and only that one; a name the router does not route to is refused with 404', async () => {
  const app = (_req: unknown, res: { setHeader(n: string, v: string): void; end(b: string): void }) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ fn: 'images-worker' }));
  };
  const common = { routerUrl: `wss://127.0.0.1:${router.controlPort}`, routerCertSha256: router.certSha256!, secret: WORKER_SECRET, backoffInitialMs: 50, backoffMaxMs: 500 };
  const worker = await startWorker(app, { ...common, functionName: 'images', workerId: 'images-box', maxConcurrent: 4, channels: 4 });
  const strayLogs: string[] = [];
  const stray = await startWorker(app, { ...common, functionName: 'nope', workerId: 'stray-box', maxConcurrent: 1, channels: 1, log: (m) => strayLogs.push(m) });
  try {
    const s = await waitFor(() => router.status(), (st) => ofFunction(st, 'images').workers.connected === 1, 20_000);
    for (const name of ['orders', 'beta']) assert.equal(ofFunction(s, name).workers.connected, 0, `${name} has no worker`);
    // Filled before Lambda: at one request at a time, the worker serves every /images request.
    for (let i = 0; i < 10; i++) assert.deepEqual(await who(`/images/${i}.png`), { status: 200, fn: 'images-worker' });
    // Never another function's.
    for (let i = 0; i < 5; i++) assert.deepEqual(await who(`/orders/${i}`), { status: 200, fn: 'orders-fn' });
    assert.equal(worker.status().requests, 10);
    assert.match(await waitFor(() => strayLogs.join('\n'), (t) => /no function named/.test(t), 10_000), /the router routes to no function named "nope"/);
    assert.equal(stray.status().open, 0, 'the stray worker holds no channel');
  } finally {
    await stray.stop(1000);
    await worker.stop(2000);
  }
});
