// The router's own surface: on the client port only the health check; status on the admin
// listener, which is bound to loopback by default even when the client port listens everywhere.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import { call, startStack, type Stack } from './stack.ts';

let stack: Stack;
before(async () => {
  stack = await startStack({ bindHost: '0.0.0.0' });
});
after(() => stack.close());

/** An address of this machine other than loopback, if it has one. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i !== undefined && !i.internal && i.family === 'IPv4')?.address;

function tryGet(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

test('the admin listener is on loopback by default, whatever the client port binds', async () => {
  assert.equal(new URL(stack.router.adminUrl).hostname, '127.0.0.1');
  assert.notEqual(stack.router.adminPort, stack.router.port);
  assert.equal(await tryGet(`${stack.router.adminUrl}/_lambda_dispatch/status`), 200);
  if (external !== undefined) {
    assert.equal(await tryGet(`http://${external}:${stack.router.port}/_lambda_dispatch/health`), 200, 'the client port answers on every interface');
    assert.equal(await tryGet(`http://${external}:${stack.router.adminPort}/_lambda_dispatch/status`), 'ECONNREFUSED', 'the admin port does not');
  }
});

test('status is not the router\'s on the client port; health is, and a flood of it stays 200', async () => {
  const status = await call(stack.router.url, '/_lambda_dispatch/status');
  assert.equal(status.status, 404);
  assert.doesNotMatch(status.body.toString(), /"instances"/);
  const codes = await Promise.all(Array.from({ length: 200 }, () => call(stack.router.url, '/_lambda_dispatch/health').then((r) => r.status)));
  assert.deepEqual(new Set(codes), new Set([200]), 'over the rate the last answer is repeated, never 429');
  assert.equal((await call(stack.router.url, '/_lambda_dispatch/health', { method: 'POST' })).status, 405);
});
