// The local Lambda's direct mode: one invocation per HTTP request, a new environment (cold start)
// only when none is idle, Function URL event and result shapes, and its own ledger.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseResult, startDirectLambda, type DirectLambda } from './direct.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/url-app.ts', import.meta.url));
let fn: DirectLambda;

before(async () => {
  fn = await startDirectLambda({ functionName: 'url-app', handlerModule: FIXTURE, concurrency: 3, timeoutS: 10, memoryMb: 256, initMs: 300 });
});
after(async () => {
  await fn.close();
});

function call(
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, fn.url), { method: o.method ?? 'GET', headers: o.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

test('a request is one invocation; the first waits a cold start, the next reuses the warm environment', async () => {
  const first = await call('/hello?x=1&x=2', { headers: { cookie: 'c=3; d=4', 'x-custom': 'yes' } });
  assert.equal(first.status, 200);
  assert.ok(first.ms >= 300, `first request took ${first.ms} ms, under the 300 ms cold start`);
  assert.deepEqual(JSON.parse(first.body.toString()), { method: 'GET', url: '/hello?x=1&x=2', cookie: 'c=3; d=4', custom: 'yes' });
  assert.deepEqual(first.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  const second = await call('/hello');
  assert.equal(second.headers['x-env'], first.headers['x-env']);
  assert.ok(second.ms < 300, `warm request took ${second.ms} ms`);
  const l = fn.ledger();
  assert.equal(l.invocations, 2);
  assert.equal(l.coldStarts, 1);
  assert.equal(l.environmentsCreated, 1);
  assert.ok(l.gbSeconds > 0.3 * 0.25, `the cold invocation bills its init (${l.gbSeconds} GB-s)`);
});

test('concurrent requests get their own environments, up to the concurrency limit (then 429)', async () => {
  const before = fn.ledger().environmentsCreated;
  const results = await Promise.all([1, 2, 3, 4, 5].map(() => call('/slow')));
  const ok = results.filter((r) => r.status === 200);
  const throttled = results.filter((r) => r.status === 429);
  assert.equal(ok.length + throttled.length, 5);
  assert.equal(throttled.length, 2, `${throttled.length} throttled with concurrency 3`);
  assert.ok(fn.ledger().environmentsCreated - before >= 1);
  assert.ok(fn.stats().environments.length <= 3);
});

test('bodies: text and binary round-trip; binary results come back base64-decoded', async () => {
  const bin = await call('/binary');
  assert.deepEqual([...bin.body], [0, 1, 2, 253, 254, 255]);
  const payload = Buffer.from([9, 0, 200, 255, 7]);
  const echoed = await call('/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: payload });
  assert.equal(echoed.status, 201);
  assert.deepEqual(echoed.body, payload);
  const text = await call('/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: Buffer.from('héllo') });
  assert.equal(text.body.toString('utf8'), 'héllo');
});

test('a body over 6 MB answers 413 without an invocation', async () => {
  const before = fn.ledger().invocations;
  const r = await call('/echo', { method: 'POST', body: Buffer.alloc(6 * 1024 * 1024 + 1) });
  assert.equal(r.status, 413);
  assert.equal(fn.ledger().invocations, before);
});

test('a result without statusCode is a 200 JSON body, as Function URLs read it', () => {
  assert.deepEqual(parseResult('{"a":1}'), { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"a":1}', isBase64Encoded: false });
  assert.equal(parseResult('{"statusCode":204}').statusCode, 204);
});
