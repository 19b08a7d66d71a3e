import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serveDemo } from './serve.ts';

let server: http.Server;
let port = 0;

before(async () => {
  server = await serveDemo(0);
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

function call(path: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: o.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('demo app', () => {
  test('GET /ping and /health', async () => {
    const ping = await call('/ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.body.toString(), 'pong');
    assert.match(ping.headers['content-type']!, /^text\/plain/);
    const health = await call('/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.toString(), 'ok');
  });

  test('POST /echo returns the body byte for byte with its content-type', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 7);
    const r = await call('/echo', { method: 'POST', body, headers: { 'content-type': 'application/x-demo' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-demo');
    assert.equal(r.headers['content-length'], String(body.length));
    assert.ok(r.body.equals(body));
  });

  test('POST /echo streams: the first bytes come back before the request has ended', async () => {
    const echoed = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', agent: false }, (res) => {
        res.once('data', (c: Buffer) => {
          resolve(c.toString());
          req.end();
          res.resume();
        });
      });
      req.on('error', reject);
      req.write('first part');
    });
    assert.equal(echoed, 'first part');
  });

  test('GET /delay?ms=N waits N ms; a bad N is 400', async () => {
    const t = Date.now();
    const r = await call('/delay?ms=120');
    assert.ok(Date.now() - t >= 115);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'delayed 120');
    assert.equal((await call('/delay?ms=abc')).status, 400);
    assert.equal((await call('/delay')).status, 400);
  });

  test('GET /cpu?ms=N keeps the event loop busy N ms; a bad N is 400', async () => {
    // The app runs in this process: its busy loop shows as this thread's event-loop utilisation.
    const elu0 = performance.eventLoopUtilization();
    const t = performance.now();
    const r = await call('/cpu?ms=60');
    const elu = performance.eventLoopUtilization(elu0);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'burned 60 ms');
    assert.ok(performance.now() - t >= 60);
    assert.ok(elu.active >= 60, `the loop was busy ${elu.active} ms`);
    assert.equal((await call('/cpu?ms=1001')).status, 400);
    assert.equal((await call('/cpu')).status, 400);
  });

  test('GET /bytes?n=N streams N bytes with content-length', async () => {
    const r = await call('/bytes?n=1000001');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1_000_001);
    assert.equal(r.headers['content-length'], '1000001');
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    const t = await call('/bytes?n=10&type=text/plain');
    assert.equal(t.headers['content-type'], 'text/plain');
    assert.equal(t.body.toString(), 'abcdefghij');
    assert.equal((await call('/bytes?n=0')).body.length, 0);
    assert.equal((await call('/bytes?n=-1')).status, 400);
  });

  test('GET /headers answers the request headers as JSON', async () => {
    const r = await call('/headers', { headers: { 'x-test': 'yes', 'x-forwarded-for': '10.0.0.1' } });
    const h = JSON.parse(r.body.toString()) as Record<string, string>;
    assert.equal(h['x-test'], 'yes');
    assert.equal(h['x-forwarded-for'], '10.0.0.1');
    assert.match(r.headers['content-type']!, /^application\/json/);
  });

  test('GET /status?code=N answers N; bad codes are 400', async () => {
    assert.equal((await call('/status?code=418')).status, 418);
    assert.equal((await call('/status?code=503')).status, 503);
    const noContent = await call('/status?code=204');
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body.length, 0);
    for (const bad of ['99', '100', '199', '600', 'abc', '']) assert.equal((await call(`/status?code=${bad}`)).status, 400, bad);
  });

  test('GET /cookies sets two set-cookie headers', async () => {
    const r = await call('/cookies');
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  });

  test('GET /whoami names the execution environment and the process', async () => {
    const t = Date.now();
    const r = await call('/whoami?ms=50');
    assert.ok(Date.now() - t >= 45);
    const who = JSON.parse(r.body.toString()) as { env: string; pid: number; time: string };
    assert.equal(who.env, process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local');
    assert.equal(who.pid, process.pid);
    assert.ok(!Number.isNaN(Date.parse(who.time)));
    assert.equal((await call('/whoami?ms=x')).status, 400);
  });

  test('anything else is 404', async () => {
    assert.equal((await call('/nope')).status, 404);
    assert.equal((await call('/echo')).status, 404);
    assert.equal((await call('/ping', { method: 'POST', body: Buffer.from('x') })).status, 404);
  });
});
