// x-forwarded-* from a trusted hop are kept (and extended); from anyone else they are replaced by
// what the router sees. Real sockets: the peer address is the one the kernel reports.

import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ForwardedHeaders } from './forwarded.ts';

/** The header list `fwd` makes of one real request sent with `headers`. */
async function seen(fwd: ForwardedHeaders, headers: Record<string, string>): Promise<Record<string, string[]>> {
  let got: string[] = [];
  const server = createServer((req, res) => {
    got = fwd.headersOf(req);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    request({ host: '127.0.0.1', port, headers: { host: `app.example:${port}`, ...headers }, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject).end();
  });
  await new Promise((r) => server.close(r));
  const out: Record<string, string[]> = {};
  for (let i = 0; i < got.length; i += 2) (out[got[i]!] ??= []).push(got[i + 1]!);
  return out;
}

const SPOOF = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-port': '443', forwarded: 'for=6.6.6.6' };

test('an untrusted peer cannot pose as another client: its forwarding headers are replaced', async () => {
  const h = await seen(new ForwardedHeaders([]), SPOOF);
  assert.deepEqual(h['x-forwarded-for'], ['127.0.0.1']);
  assert.deepEqual(h['x-forwarded-proto'], ['http']);
  assert.equal(h['x-forwarded-host']?.length, 1);
  assert.match(h['x-forwarded-host']![0]!, /^app\.example:\d+$/);
  assert.equal(h['x-forwarded-port'], undefined);
  assert.equal(h.forwarded, undefined);
});

test('a peer outside the trusted ranges is untrusted too', async () => {
  const h = await seen(new ForwardedHeaders(['10.0.0.0/8', 'fd00::/8']), SPOOF);
  assert.deepEqual(h['x-forwarded-for'], ['127.0.0.1']);
  assert.deepEqual(h['x-forwarded-proto'], ['http']);
});

test('a trusted hop (the load balancer) is believed, and the chain gets its address', async () => {
  const h = await seen(new ForwardedHeaders(['127.0.0.0/8']), SPOOF);
  assert.deepEqual(h['x-forwarded-for'], ['6.6.6.6, 127.0.0.1']);
  assert.deepEqual(h['x-forwarded-proto'], ['https']);
  assert.deepEqual(h['x-forwarded-host'], ['evil.example']);
  assert.deepEqual(h['x-forwarded-port'], ['443']);
});

test('IPv4 peers seen on a dual-stack socket (::ffff:a.b.c.d) match IPv4 ranges', () => {
  const f = new ForwardedHeaders(['10.1.0.0/16']);
  assert.equal(f.isTrusted('::ffff:10.1.2.3'), true);
  assert.equal(f.isTrusted('10.1.2.3'), true);
  assert.equal(f.isTrusted('10.2.0.1'), false);
  assert.equal(f.isTrusted(''), false);
});
