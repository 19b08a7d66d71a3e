// The router owns HTTP framing toward its clients whatever a peer sends. A peer speaking the real
// channel protocol (test/fixtures/rogue-function.ts, run by the local Lambda) answers with a body
// shorter or longer than its content-length, an interim or invalid final status, or a bad length;
// the client must never wait on it, never read bytes of another response, and status must count it.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { INJECTED } from './fixtures/rogue-function.ts';
import { startStack, waitFor, type Stack } from './stack.ts';

const ROGUE = fileURLToPath(new URL('./fixtures/rogue-function.ts', import.meta.url));

/** Everything the router sends on one connection for one request, until it closes the connection. */
function rawExchange(base: string, path: string, limitMs = 10_000): Promise<{ bytes: string; closed: 'closed' | 'timeout' }> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    // A bound far above the 1 s the router needs, far below the 47–60 s a hung client used to wait.
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks).toString('latin1'), closed: 'timeout' });
    }, limitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks).toString('latin1'), closed: 'closed' });
    });
    socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  });
}

describe('response framing is the router’s', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ lambda: { handlerModule: ROGUE, functionName: 'rogue' }, routerEnv: { LAMBDA_DISPATCH_FunctionName: 'rogue' } });
  });
  after(() => stack.close());

  test('a well-formed answer from the same peer passes untouched', async () => {
    const r = await rawExchange(stack.router.url, '/ok');
    assert.equal(r.closed, 'closed');
    assert.match(r.bytes, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(r.bytes.endsWith('\r\n\r\nok'), JSON.stringify(r.bytes));
  });

  for (const [path, violation] of [
    ['/interim', 'interim-status'],
    ['/switch', 'interim-status'],
    ['/s999', 'bad-status'],
    ['/bad-length', 'bad-length'],
    ['/info-101', 'bad-status'],
    ['/info-200', 'bad-status'],
  ] as const) {
    test(`${path}: nothing was sent yet, so the client gets 502 ${violation}`, async () => {
      const r = await rawExchange(stack.router.url, path);
      assert.equal(r.closed, 'closed', 'the connection did not hang');
      assert.match(r.bytes, /^HTTP\/1\.1 502 /);
      assert.match(r.bytes, /x-lambda-dispatch-error: LD_BAD_RESPONSE_FRAMING/i);
      assert.equal(r.bytes.match(/HTTP\/1\.1 /g)?.length, 1, 'one response only');
      const s = await stack.router.status();
      assert.ok(s.framingViolations[violation] >= 1, JSON.stringify(s.framingViolations));
    });
  }

  test('/info-ok: a 1xx in its own frame (RES_INFO) is no violation: it reaches the client before the final response', async () => {
    const r = await rawExchange(stack.router.url, '/info-ok');
    assert.equal(r.closed, 'closed');
    assert.match(r.bytes, /^HTTP\/1\.1 103 Hints Ahead\r\nlink: <\/a\.js>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    assert.ok(r.bytes.endsWith('\r\n\r\nok'), JSON.stringify(r.bytes));
  });

  test('/short: a body that ends short of its length closes the client’s connection at the peer’s END', async () => {
    const r = await rawExchange(stack.router.url, '/short');
    assert.equal(r.closed, 'closed', 'the client was left waiting for the missing bytes');
    assert.match(r.bytes, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(r.bytes, /content-length: 10\r\n/i);
    const body = r.bytes.slice(r.bytes.indexOf('\r\n\r\n') + 4);
    assert.ok(body.length < 10, `the client got ${body.length} of 10 bytes, then the close`);
    assert.ok((await stack.router.status()).framingViolations['short-body'] >= 1);
  });

  test('/long: what fits the promised length is the response; nothing past it reaches the client', async () => {
    const r = await rawExchange(stack.router.url, '/long');
    assert.equal(r.closed, 'closed');
    assert.ok(!r.bytes.includes('injected'), JSON.stringify(r.bytes));
    assert.equal(r.bytes.match(/HTTP\/1\.1 /g)?.length, 1, 'one response only');
    assert.match(r.bytes, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(r.bytes.endsWith('\r\n\r\nhello'), JSON.stringify(r.bytes));
    assert.ok((await stack.router.status()).framingViolations['long-body'] >= 1);
  });

  test('/long-head: a head whose inline body overruns its length is answered 502, nothing of it relayed', async () => {
    const r = await rawExchange(stack.router.url, '/long-head');
    assert.equal(r.closed, 'closed');
    assert.ok(!r.bytes.includes('injected'), JSON.stringify(r.bytes));
    assert.match(r.bytes, /^HTTP\/1\.1 502 /);
    assert.equal(r.bytes.match(/HTTP\/1\.1 /g)?.length, 1, 'one response only');
  });

  test('every channel a violation held is freed, and the router still serves', async () => {
    const ok = await rawExchange(stack.router.url, '/ok');
    assert.ok(ok.bytes.endsWith('\r\n\r\nok'));
    const s = await waitFor(
      () => stack.router.status(),
      (st) => st.inFlight === 0 && st.channels.busy === 0 && st.pending === 0,
    );
    assert.equal(s.inFlight, 0);
    assert.equal(s.channels.busy, 0);
    assert.equal(s.pending, 0);
  });
});
