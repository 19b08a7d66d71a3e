// The in-memory transport reports what the app's server writes besides head and body, as
// http.ClientRequest does over TCP: informational (1xx) responses as 'information' events before
// 'response', and the trailers of a chunked body as the response's rawTrailers.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import type { AppInformation } from '../target.ts';
import { ConnectionPool, type MemoryResponse } from './pool.ts';

const server = http.createServer((req, res) => {
  req.resume();
  if (req.url === '/hints') {
    res.writeEarlyHints({ link: '</a.css>; rel=preload' });
    res.writeProcessing();
    return void res.writeHead(299, 'Custom Reason', { 'content-type': 'text/plain' }).end('done');
  }
  res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-sum' });
  res.write('ab');
  res.addTrailers([['X-Sum', '3'], ['x-sum', '4']]);
  res.end('c');
});
after(() => server.close());

function exchange(pool: ConnectionPool, path: string): Promise<{ events: string[]; info: AppInformation[]; res: MemoryResponse; body: string }> {
  return new Promise((resolve, reject) => {
    const events: string[] = [];
    const info: AppInformation[] = [];
    const req = pool.request('GET', path, ['host', 'app']);
    req.on('information', (i: AppInformation) => {
      events.push(`information ${i.statusCode}`);
      info.push(i);
    });
    req.on('error', reject);
    req.on('response', (res: MemoryResponse) => {
      events.push(`response ${res.statusCode}`);
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ events, info, res, body }));
    });
    req.end();
  });
}

test("1xx responses are 'information' events, in order, before 'response'; the reason phrase is kept", async () => {
  const pool = new ConnectionPool(server);
  const r = await exchange(pool, '/hints');
  assert.deepEqual(r.events, ['information 103', 'information 102', 'response 299']);
  assert.equal(r.info[0]!.statusMessage, 'Early Hints');
  assert.deepEqual(r.info[0]!.rawHeaders, ['Link', '</a.css>; rel=preload']);
  assert.deepEqual(r.info[1]!.rawHeaders, []);
  assert.equal(r.res.statusMessage, 'Custom Reason');
  assert.equal(r.body, 'done');
  pool.destroy();
});

test('the trailers of a chunked body are rawTrailers once the response has ended', async () => {
  const pool = new ConnectionPool(server);
  const r = await exchange(pool, '/trailers');
  assert.equal(r.body, 'abc');
  assert.deepEqual(r.res.rawTrailers, ['X-Sum', '3', 'x-sum', '4']);
  // The connection is reused, and the next response starts without trailers.
  const again = await exchange(pool, '/hints');
  assert.deepEqual(again.res.rawTrailers, []);
  pool.destroy();
});

test('a request Node would refuse is refused before anything reaches the app, and the pool still serves', async () => {
  const pool = new ConnectionPool(server);
  // What http.validateHeaderName / validateHeaderValue and ClientRequest refuse: header injection,
  // a name that is not a token, a method or target that could split the request line.
  assert.throws(() => pool.request('GET', '/', ['x-a', 'ok\r\nx-injected: 1']), { name: 'TypeError', message: /Invalid character in header content \["x-a"\]/ });
  assert.throws(() => pool.request('GET', '/', ['bad name', 'v']), { name: 'TypeError', message: /Header name must be a valid HTTP token/ });
  assert.throws(() => pool.request('GET', '/', ['x-a', 'nul\0']), { name: 'TypeError', message: /Invalid character/ });
  assert.throws(() => pool.request('GE T', '/', []), { name: 'TypeError', message: /Method must be a valid HTTP token/ });
  assert.throws(() => pool.request('GET', '/a b', []), { name: 'TypeError', message: /unescaped characters/ });
  // Field content Node accepts passes: a tab, obs-text (latin1 above 0x7f).
  const { res, body } = await exchangeWith(pool, ['host', 'app', 'x-a', 'a\tb caf\u00e9']);
  assert.equal(res.statusCode, 200);
  assert.equal(body, 'abc');
  pool.destroy();
});

function exchangeWith(pool: ConnectionPool, headers: string[]): Promise<{ res: MemoryResponse; body: string }> {
  return new Promise((resolve, reject) => {
    const req = pool.request('GET', '/', headers);
    req.on('error', reject);
    req.on('response', (res: MemoryResponse) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ res, body }));
    });
    req.end();
  });
}
