// Plain Lambda HTTP events (Function URL / API Gateway v2, API Gateway v1, ALB) answered by the
// same handler through the same app, on real loopback sockets.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { demoApp } from '../demo/app.ts';
import { closeLocalServers, createHandler, type HttpEventResult } from './handler.ts';
import { httpEventKind } from './direct.ts';
import { contextFor } from './test-router.ts';

after(() => closeLocalServers());

const handler = createHandler(demoApp, { log: () => {} });
const ctx = () => contextFor(30_000);

function v2(method: string, rawPath: string, o: { query?: string; headers?: Record<string, string>; body?: Buffer; cookies?: string[] } = {}) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: o.query ?? '',
    cookies: o.cookies,
    headers: { host: 'abc.lambda-url.us-east-1.on.aws', ...o.headers },
    requestContext: {
      domainName: 'abc.lambda-url.us-east-1.on.aws',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'test' },
      requestId: 'r1',
      stage: '$default',
    },
    body: o.body?.toString('base64'),
    isBase64Encoded: o.body !== undefined,
  };
}

function v1(method: string, path: string, o: { query?: Record<string, string[]>; headers?: Record<string, string[]>; body?: Buffer } = {}) {
  const multiValueHeaders = { Host: ['abc.execute-api.us-east-1.amazonaws.com'], ...o.headers };
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers: Object.fromEntries(Object.entries(multiValueHeaders).map(([k, v]) => [k, v.at(-1)])),
    multiValueHeaders,
    queryStringParameters: o.query ? Object.fromEntries(Object.entries(o.query).map(([k, v]) => [k, v.at(-1)])) : null,
    multiValueQueryStringParameters: o.query ?? null,
    requestContext: { stage: 'prod', identity: { sourceIp: '198.51.100.9' }, domainName: 'abc.execute-api.us-east-1.amazonaws.com', path: `/prod${path}` },
    body: o.body?.toString('base64') ?? null,
    isBase64Encoded: o.body !== undefined,
  };
}

function alb(method: string, path: string, o: { query?: Record<string, string>; headers?: Record<string, string>; multi?: boolean; body?: Buffer } = {}) {
  const headers = { host: 'my-alb-123.us-east-1.elb.amazonaws.com', 'x-forwarded-for': '192.0.2.1', 'x-forwarded-proto': 'http', 'x-forwarded-port': '80', ...o.headers };
  return {
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/tg/1' } },
    httpMethod: method,
    path,
    ...(o.multi
      ? {
          multiValueQueryStringParameters: Object.fromEntries(Object.entries(o.query ?? {}).map(([k, v]) => [k, [v]])),
          multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
        }
      : { queryStringParameters: o.query ?? {}, headers }),
    body: o.body?.toString('base64') ?? '',
    isBase64Encoded: o.body !== undefined,
  };
}

const bodyOf = (r: HttpEventResult) => Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8');

describe('event detection', () => {
  test('v2, v1 and ALB events are told apart from each other and from router payloads', () => {
    assert.equal(httpEventKind(v2('GET', '/')), 'v2');
    assert.equal(httpEventKind(v1('GET', '/')), 'v1');
    assert.equal(httpEventKind(alb('GET', '/')), 'alb');
    assert.equal(httpEventKind({ v: 1, routerUrl: 'ws://x', instanceId: 'i', token: 't', channels: 1, maxConcurrent: 1 }), null);
    assert.equal(httpEventKind(null), null);
  });
});

describe('Function URL / API Gateway v2 (payload 2.0)', () => {
  test('GET /ping answers like the app, text body not base64', async () => {
    const r = await handler(v2('GET', '/ping'), ctx());
    assert.equal(r.statusCode, 200);
    assert.equal(r.body, 'pong');
    assert.equal(r.isBase64Encoded, false);
    assert.match(r.headers?.['content-type'] ?? '', /^text\/plain/);
  });

  test('a binary body round-trips byte for byte (base64 both ways)', async () => {
    const body = randomBytes(300_000);
    const r = await handler(v2('POST', '/echo', { body, headers: { 'content-type': 'application/octet-stream' } }), ctx());
    assert.equal(r.statusCode, 200);
    assert.equal(r.isBase64Encoded, true);
    assert.ok(bodyOf(r).equals(body));
  });

  test('query string, cookies both ways, and forwarding headers from the event', async () => {
    const bytes = await handler(v2('GET', '/bytes', { query: 'n=10&type=text/plain' }), ctx());
    assert.equal(bytes.body.length, 10);
    const cookies = await handler(v2('GET', '/cookies'), ctx());
    assert.deepEqual(cookies.cookies, ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(cookies.headers?.['set-cookie'], undefined);
    const seen = JSON.parse((await handler(v2('GET', '/headers', { cookies: ['s=1', 't=2'] }), ctx())).body) as Record<string, string>;
    assert.equal(seen.cookie, 's=1; t=2');
    assert.equal(seen['x-forwarded-for'], '203.0.113.7');
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-forwarded-host'], 'abc.lambda-url.us-east-1.on.aws');
    assert.equal(seen.host, 'abc.lambda-url.us-east-1.on.aws');
  });

  test('status codes pass; gzip applies when the client accepts it', async () => {
    assert.equal((await handler(v2('GET', '/status', { query: 'code=418' }), ctx())).statusCode, 418);
    assert.equal((await handler(v2('GET', '/nope'), ctx())).statusCode, 404);
    const r = await handler(v2('GET', '/bytes', { query: 'n=100000&type=text/plain', headers: { 'accept-encoding': 'gzip, br' } }), ctx());
    assert.equal(r.headers?.['content-encoding'], 'gzip');
    assert.equal(r.isBase64Encoded, true);
    assert.equal(gunzipSync(bodyOf(r)).length, 100_000);
  });
});

describe('API Gateway v1 (REST, payload 1.0)', () => {
  test('GET with decoded query parameters re-encoded for the app; repeated set-cookie as multi-value headers', async () => {
    const r = await handler(v1('GET', '/bytes', { query: { n: ['5'], type: ['text/plain; charset=utf-8'] } }), ctx());
    assert.equal(r.statusCode, 200);
    assert.equal(r.body.length, 5);
    assert.deepEqual(r.multiValueHeaders?.['content-type'], ['text/plain; charset=utf-8']);
    const cookies = await handler(v1('GET', '/cookies'), ctx());
    assert.deepEqual(cookies.multiValueHeaders?.['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  });

  test('a binary body round-trips; source IP becomes x-forwarded-for', async () => {
    const body = randomBytes(100_000);
    const r = await handler(v1('POST', '/echo', { body, headers: { 'Content-Type': ['image/png'] } }), ctx());
    assert.equal(r.isBase64Encoded, true);
    assert.ok(bodyOf(r).equals(body));
    const seen = JSON.parse((await handler(v1('GET', '/headers'), ctx())).body) as Record<string, string>;
    assert.equal(seen['x-forwarded-for'], '198.51.100.9');
    assert.equal(seen['x-forwarded-proto'], 'https');
  });
});

describe('ALB', () => {
  test('single-value headers: answers with headers and a status description; the load balancer\'s x-forwarded-* kept', async () => {
    const r = await handler(alb('GET', '/ping'), ctx());
    assert.equal(r.statusCode, 200);
    assert.equal(r.statusDescription, '200 OK');
    assert.equal(r.body, 'pong');
    assert.equal(r.multiValueHeaders, undefined);
    const seen = JSON.parse((await handler(alb('GET', '/headers'), ctx())).body) as Record<string, string>;
    assert.equal(seen['x-forwarded-for'], '192.0.2.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
  });

  test('multi-value headers in, multi-value headers out; query passed as the client encoded it; binary intact', async () => {
    const r = await handler(alb('GET', '/bytes', { multi: true, query: { n: '7', type: 'text%2Fplain' } }), ctx());
    assert.equal(r.body.length, 7);
    assert.deepEqual(r.multiValueHeaders?.['content-type'], ['text/plain']);
    assert.equal(r.headers, undefined);
    const body = randomBytes(50_000);
    const echo = await handler(alb('POST', '/echo', { body, headers: { 'content-type': 'application/octet-stream' } }), ctx());
    assert.ok(bodyOf(echo).equals(body));
  });
});

describe('failures', () => {
  test('an app that never gets ready fails the invocation with a clear error', async () => {
    const h = createHandler({ port: 1, healthPath: '/health' }, { log: () => {}, healthTimeoutMs: 0 });
    await assert.rejects(h(v2('GET', '/'), ctx()), /did not answer GET \/health/);
  });
});
