import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endToEndHeaders } from './http-headers.ts';

test('endToEndHeaders lower-cases names, keeps order and repeats, and drops hop-by-hop fields', () => {
  const raw = ['Host', 'a', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Set-Cookie', 'x=1', 'Transfer-Encoding', 'chunked', 'set-cookie', 'y=2', 'Upgrade', 'h2c', 'Proxy-Authorization', 'Basic x', 'HTTP2-Settings', 'AAA', 'Trailer', 'x-t', 'Proxy-Authenticate', 'Basic', 'Proxy-Connection', 'close'];
  assert.deepEqual(endToEndHeaders(raw), ['host', 'a', 'set-cookie', 'x=1', 'set-cookie', 'y=2']);
});

test('endToEndHeaders drops what the connection header names, wherever it stands', () => {
  const raw = ['X-Before', '1', 'Connection', 'X-Before, , x-after ', 'X-After', '2', 'X-Kept', '3'];
  assert.deepEqual(endToEndHeaders(raw), ['x-kept', '3']);
});

test('endToEndHeaders keeps names that only look like hop-by-hop ones', () => {
  const raw = ['Content-Length', '4', 'user-agent', 'u', 'x-upgrade', 'y', 'tee', 'z', 'keepalive', 'w'];
  assert.deepEqual(endToEndHeaders(raw), ['content-length', '4', 'user-agent', 'u', 'x-upgrade', 'y', 'tee', 'z', 'keepalive', 'w']);
});
