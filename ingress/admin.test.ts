import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEALTH_BURST, HEALTH_CHECKS_PER_SECOND, Health, isHealthRequest } from './admin.ts';
import type { IncomingMessage } from 'node:http';

test('health is checked at most at its rate; beyond it the last answer; invalidate() shows a change at once', () => {
  const clock = { now: 0 };
  let checks = 0;
  let state: 'ok' | 'draining' = 'ok';
  const h = new Health(() => {
    checks++;
    return state;
  }, () => clock.now);
  for (let i = 0; i < 1000; i++) assert.equal(h.state(), 'ok');
  assert.equal(checks, HEALTH_BURST);
  clock.now += 1000;
  for (let i = 0; i < 1000; i++) h.state();
  assert.equal(checks, HEALTH_BURST + HEALTH_CHECKS_PER_SECOND);
  // The bucket is empty; a drain still shows on the very next request.
  state = 'draining';
  assert.equal(h.state(), 'ok', 'cached');
  h.invalidate();
  assert.equal(h.state(), 'draining');
});

test('only the exact health path (with or without a query) is the router\'s', () => {
  const is = (url: string) => isHealthRequest({ url } as IncomingMessage);
  assert.ok(is('/_lambda_dispatch/health'));
  assert.ok(is('/_lambda_dispatch/health?x=1'));
  assert.ok(!is('/_lambda_dispatch/healthz'));
  assert.ok(!is('/_lambda_dispatch/status'));
  assert.ok(!is('/health'));
});
