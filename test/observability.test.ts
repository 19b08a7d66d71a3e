// The whole stack's observability, as an operator reads it: after a known mix of requests,
// /metrics (parsed as Prometheus text) counts exactly what was sent, the router's access log has
// exactly one line per request with its fields, a client's traceparent reaches the app and both
// logs (the router's and the extension's inside Lambda), and the EMF lines add up to the same
// request count.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import parsePrometheus from 'parse-prometheus-text-format';
import { call, startStack, waitFor, type Reply, type Stack } from './stack.ts';

const FUNCTION = fileURLToPath(new URL('./fixtures/logging-function.ts', import.meta.url));
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const AMZN = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';

interface Sent {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

/** The mix: every method and status class the counters split by, bodies both ways. */
const MIX: Sent[] = [
  ...Array.from({ length: 12 }, () => ({ method: 'GET', path: '/ping' })),
  ...Array.from({ length: 4 }, () => ({ method: 'GET', path: '/status?code=404' })),
  ...Array.from({ length: 3 }, () => ({ method: 'GET', path: '/status?code=503' })),
  ...Array.from({ length: 4 }, (_, i) => ({ method: 'POST', path: '/echo', body: Buffer.alloc(1000 + i, 7) })),
  ...Array.from({ length: 2 }, () => ({ method: 'HEAD', path: '/ping' })),
  { method: 'GET', path: '/headers?trace=client', headers: { traceparent: TRACEPARENT } },
  { method: 'GET', path: '/headers?trace=alb', headers: { 'x-amzn-trace-id': AMZN } },
  { method: 'GET', path: '/headers?trace=none' },
];

let stack: Stack;
let dir: string;
const replies: Reply[] = [];

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ld-observability-'));
  stack = await startStack({
    lambda: {
      handlerModule: FUNCTION,
      env: { TEST_EXTENSION_LOG: path.join(dir, 'extension.log'), AWS_LAMBDA_LOG_FORMAT: 'JSON', LAMBDA_DISPATCH_AccessLogSample: '1' },
    },
    routerEnv: { LAMBDA_DISPATCH_EmfNamespace: 'LambdaDispatchTest', LAMBDA_DISPATCH_EmfService: 'obs-test', LAMBDA_DISPATCH_EmfIntervalMs: '1000' },
  });
  // In sequence, so that the mix is exactly what was sent whatever the machine's load.
  for (const s of MIX) replies.push(await call(stack.router.url, s.path, { method: s.method, ...(s.headers ? { headers: s.headers } : {}), ...(s.body ? { body: s.body } : {}) }));
});

after(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

const accessLines = () => stack.json.filter((l) => l.type === 'access');

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[] };

async function scrape(): Promise<Map<string, Family>> {
  const res = await fetch(`${stack.router.adminUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const families = parsePrometheus(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function value(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = m.get(name);
  assert.ok(f, `metric ${name} is exported`);
  const hit = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  assert.ok(hit, `${name}${JSON.stringify(labels)} is exported`);
  return Number(hit.value);
}

test('every request got its answer', () => {
  assert.deepEqual(
    replies.map((r) => r.status),
    MIX.map((s) => (s.path.includes('404') ? 404 : s.path.includes('503') ? 503 : 200)),
  );
});

test('/metrics, parsed as Prometheus text, counts exactly the requests sent', async () => {
  await waitFor(accessLines, (l) => l.length >= MIX.length);
  const m = await scrape();
  const count = (method: string, cls: string) => MIX.filter((s, i) => s.method === method && `${Math.floor(replies[i]!.status / 100)}xx` === cls).length;
  for (const method of ['GET', 'POST', 'HEAD', 'PUT']) {
    for (const cls of ['2xx', '4xx', '5xx']) {
      assert.equal(value(m, 'lambda_dispatch_requests_total', { method, status_class: cls }), count(method, cls), `${method} ${cls}`);
    }
  }
  for (const name of ['lambda_dispatch_request_duration_seconds', 'lambda_dispatch_queue_wait_seconds', 'lambda_dispatch_upstream_first_byte_seconds', 'lambda_dispatch_upstream_duration_seconds']) {
    const h = m.get(name)!.metrics[0]!;
    assert.equal(Number(h.count), MIX.length, `${name} count`);
    assert.equal(Number(h.buckets!['+Inf']), MIX.length, `${name} +Inf bucket`);
    assert.ok(Number(h.sum) > 0, `${name} sum`);
  }
  const sentBytes = MIX.reduce((n, s) => n + (s.body?.length ?? 0), 0);
  const gotBytes = replies.reduce((n, r) => n + r.body.length, 0);
  assert.equal(value(m, 'lambda_dispatch_body_bytes_total', { direction: 'in' }), sentBytes);
  assert.equal(value(m, 'lambda_dispatch_body_bytes_total', { direction: 'out' }), gotBytes);
  assert.equal(value(m, 'lambda_dispatch_client_aborts_total'), 0);
  assert.equal(value(m, 'lambda_dispatch_request_outcomes_total', { outcome: 'served' }), MIX.length);
  assert.ok(value(m, 'lambda_dispatch_invokes_total') >= 1);
  assert.ok(value(m, 'lambda_dispatch_cold_starts_total') >= 1, 'the first environment reported its cold start');
  assert.equal(value(m, 'lambda_dispatch_invoke_consecutive_failures'), 0);
  assert.ok(value(m, 'lambda_dispatch_instances', { state: 'open' }) >= 1);
  assert.ok(value(m, 'lambda_dispatch_channels', { state: 'open' }) >= 1);
  assert.ok(value(m, 'lambda_dispatch_scaler_capacity') >= 1, 'the open instance counts as capacity');
  assert.equal(m.get('lambda_dispatch_instance_concurrency_limit')!.metrics.length, value(m, 'lambda_dispatch_instances', { state: 'open' }), 'a limit per open instance');
  // Nothing in flight once the load stops: every gauge of work returns to zero.
  for (const name of ['lambda_dispatch_in_flight', 'lambda_dispatch_waiting', 'lambda_dispatch_active_client_requests']) assert.equal(value(m, name), 0, name);
  assert.equal(value(m, 'lambda_dispatch_channels', { state: 'busy' }), 0);
  assert.ok(value(m, 'lambda_dispatch_ring_size_bytes', { ring: 'request' }) > 0);
  assert.ok(value(m, 'process_cpu_seconds_total') > 0);
  assert.ok(m.has('lambda_dispatch_thread_event_loop_utilization'));
  assert.ok(value(m, 'lambda_dispatch_thread_heap_used_bytes', { thread: 'dispatcher' }) > 0);
});

test('the access log has exactly one line per request, with its fields', async () => {
  const lines = await waitFor(accessLines, (l) => l.length >= MIX.length);
  assert.equal(lines.length, MIX.length);
  for (const [i, s] of MIX.entries()) {
    const line = lines[i]!;
    assert.equal(line.method, s.method);
    assert.equal(line.path, s.path);
    assert.equal(line.status, replies[i]!.status);
    assert.equal(line.bytesIn, s.body?.length ?? 0);
    assert.equal(line.bytesOut, replies[i]!.body.length);
    assert.equal(line.level, 'info');
    assert.equal(typeof line.time, 'string');
    assert.equal(line.client, '127.0.0.1');
    assert.equal(line.retries, 0);
    assert.equal(line.aborted, false);
    assert.equal(line.error, null);
    assert.match(String(line.instance), /^[0-9a-f]{8}$/, 'a short instance id, never the token');
    assert.match(String(line.traceId), /^[0-9a-f]{32}$/);
    for (const f of ['durationMs', 'queueMs', 'firstByteMs', 'upstreamMs'] as const) assert.ok(typeof line[f] === 'number' && line[f] >= 0, `${f}: ${line[f]}`);
    assert.ok((line.durationMs as number) >= (line.upstreamMs as number), 'the whole request outlasts its upstream part');
  }
  const events = stack.json.filter((l) => l.type === 'event');
  assert.ok(events.some((e) => e.event === 'instance-started'), JSON.stringify(events));
  assert.ok(events.some((e) => e.event === 'instance-opened' && e.coldStart === true), JSON.stringify(events));
});

test('a traceparent reaches the app and both logs; one is made from X-Amzn-Trace-Id, or anew', async () => {
  const seen = (trace: string) => JSON.parse(replies[MIX.findIndex((s) => s.path === `/headers?trace=${trace}`)]!.body.toString()) as Record<string, string>;
  assert.equal(seen('client').traceparent, TRACEPARENT, 'a valid traceparent goes on unchanged');
  assert.match(seen('alb').traceparent!, /^00-5759e988bd862e3fe1be46a994272793-[0-9a-f]{16}-01$/, 'the ALB trace id, as X-Ray maps it');
  assert.equal(seen('alb')['x-amzn-trace-id'], AMZN);
  assert.match(seen('none').traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

  const routerLine = accessLines().find((l) => l.path === '/headers?trace=client')!;
  assert.equal(routerLine.traceId, TRACE_ID);
  const albLine = accessLines().find((l) => l.path === '/headers?trace=alb')!;
  assert.equal(albLine.traceId, '5759e988bd862e3fe1be46a994272793');
  assert.equal(albLine.amznTraceId, AMZN);

  const ext = await waitFor(
    () => readFileSync(path.join(dir, 'extension.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    (l) => l.filter((x) => x.type === 'access').length >= MIX.length,
  );
  const extLine = ext.find((l) => l.path === '/headers?trace=client');
  assert.ok(extLine, 'the extension logged the request');
  assert.equal(extLine.traceId, TRACE_ID);
  // Lambda's JSON log format: timestamp, level in capitals, message, the invocation's request id.
  assert.equal(extLine.level, 'INFO');
  assert.equal(typeof extLine.timestamp, 'string');
  assert.equal(extLine.message, 'GET /headers?trace=client 200');
  assert.match(String(extLine.requestId), /\S/);
  assert.equal(extLine.instance, routerLine.instance, 'both sides name the same instance');
  assert.equal(ext.filter((x) => x.type === 'access').length, MIX.length, 'one extension line per request');
});

test('the EMF lines add up to the requests, in CloudWatch\'s format', async () => {
  await stack.close();
  const emf = stack.json.filter((l) => l.type === 'metrics');
  assert.ok(emf.length >= 1, 'the drain publishes the last interval');
  let requests = 0;
  for (const doc of emf) {
    const aws = doc._aws as { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
    assert.equal(typeof aws.Timestamp, 'number');
    const [directive] = aws.CloudWatchMetrics;
    assert.equal(directive!.Namespace, 'LambdaDispatchTest');
    assert.deepEqual(directive!.Dimensions, [['Service']]);
    assert.equal(doc.Service, 'obs-test');
    for (const { Name } of directive!.Metrics) {
      const v = doc[Name];
      assert.ok(typeof v === 'number' || (Array.isArray(v) && v.length > 0 && v.length <= 100), `${Name}: ${JSON.stringify(v)}`);
    }
    requests += doc.Requests as number;
  }
  assert.equal(requests, MIX.length);
  assert.equal(emf.reduce((n, d) => n + (d.Responses5xx as number), 0), 3);
  assert.equal(emf.reduce((n, d) => n + (d.Responses4xx as number), 0), 4);
});
