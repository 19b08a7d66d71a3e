// The router with its dispatcher on the main thread (LAMBDA_DISPATCH_DispatcherThread=main, the
// default with one vCPU or less): the same spine end to end — rings woken without Atomics, bodies
// both ways, many requests at once, status and a clean stop.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { quotaCpus } from '../ingress/cpu-budget.ts';
import { dispatcherOnMainThread } from '../ingress/dispatcher-thread.ts';
import { call, startStack, type Stack } from './stack.ts';

test('auto puts the dispatcher on the main thread only with one CPU or less', () => {
  assert.equal(dispatcherOnMainThread('auto', 1), true);
  assert.equal(dispatcherOnMainThread('auto', 2), false);
  assert.equal(dispatcherOnMainThread('worker', 1), false);
  assert.equal(dispatcherOnMainThread('main', 8), true);
  assert.equal(dispatcherOnMainThread('auto', 0.5), true, 'a half-vCPU quota');
});

test('the cgroup v2 quota in CPUs: none for "max", a fraction for a half vCPU', () => {
  assert.equal(quotaCpus('max 100000\n'), undefined);
  assert.equal(quotaCpus('50000 100000\n'), 0.5);
  assert.equal(quotaCpus('200000 100000'), 2);
  assert.equal(quotaCpus(undefined), undefined);
});

describe('dispatcher on the main thread', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ routerEnv: { LAMBDA_DISPATCH_DispatcherThread: 'main' } });
  });
  after(async () => {
    await stack.close();
  });

  test('serves requests, one after another and many at once', async () => {
    const r = await call(stack.router.url, '/ping');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'pong');
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => call(stack.router.url, `/echo?i=${i}`, { method: 'POST', body: Buffer.from(`body ${i}`) })));
    assert.deepEqual(
      many.map((x) => [x.status, x.body.toString()]),
      many.map((_, i) => [200, `body ${i}`]),
    );
  });

  test('a body larger than the ring window streams through', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 'x');
    const r = await call(stack.router.url, '/echo', { method: 'POST', body });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, body.length);
    assert.ok(r.body.equals(body));
  });

  test('status counts one heap: the dispatcher has none of its own', async () => {
    const s = await stack.router.status();
    assert.equal(s.ingress.memory.byThread.dispatcher, null);
    assert.ok(s.requests.served >= 42);
  });
});
