import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, TokenBucket } from '../backoff.ts';
import { Scaler, ewmaDesired, maxStep, simpleDesired, targetPerInstance, type ScalerSettings } from './scaler.ts';

const settings: ScalerSettings = {
  algorithm: 'simple',
  maxConcurrent: 10,
  instanceCountMultiplier: 2,
  minInstances: 0,
  maxInstances: 100,
  scaleOutIntervalMs: 2000,
  scaleInIntervalMs: 5000,
};

test('simple: the design worked example (10 running, max 10, multiplier 2 → 3 instances)', () => {
  assert.equal(targetPerInstance(settings), 5);
  assert.equal(simpleDesired({ running: 10, pending: 0 }, settings), 3);
  assert.equal(simpleDesired({ running: 0, pending: 0 }, settings), 0);
  assert.equal(simpleDesired({ running: 1, pending: 0 }, settings), 1);
  // 100 waiting: r = 100 / 10 / 2 = 5 → ceil(6) = 6
  assert.equal(simpleDesired({ running: 0, pending: 100 }, settings), 6);
});

test('ewma: rps per instance follows duration and target', () => {
  // 50 ms requests, target 5 → 100 rps per instance; 1000 rps → 10 × 1.2 = 12
  assert.equal(ewmaDesired(1000, 50, settings), 12);
  // durations under 2 ms count as 2 ms
  assert.equal(ewmaDesired(2500, 0.5, settings), ewmaDesired(2500, 2, settings));
  assert.equal(ewmaDesired(0, 50, settings), 0);
});

test('step limit: at most max(5, 33%) per step', () => {
  assert.equal(maxStep(0), 5);
  assert.equal(maxStep(30), 10);
  const s = new Scaler(settings, 0);
  assert.equal(s.decide(0, 0, { running: 0, pending: 1000 }).desired, 5);
});

test('scale-out and scale-in are rate limited; no scale-in while requests wait', () => {
  const s = new Scaler(settings, 0);
  assert.equal(s.decide(0, 0, { running: 10, pending: 0 }).desired, 3);
  assert.equal(s.decide(1000, 3, { running: 40, pending: 0 }).desired, 3, 'within 2 s of the last scale-out');
  assert.equal(s.decide(2000, 3, { running: 40, pending: 0 }).desired, 8);
  assert.equal(s.decide(3000, 8, { running: 0, pending: 5 }).desired, 8, 'pending blocks scale-in');
  assert.equal(s.decide(3000, 8, { running: 0, pending: 0 }).desired, 8, 'demand peaked at 10 within the last 5 s');
  assert.equal(s.decide(7100, 8, { running: 0, pending: 0 }).desired, 3, 'then scale-in, by at most 5');
  assert.equal(s.decide(8000, 3, { running: 0, pending: 0 }).desired, 3, 'within 5 s of the last scale-in');
  assert.equal(s.decide(12_200, 3, { running: 0, pending: 0 }).desired, 0);
});

test('an instant of idleness under steady load does not scale in', () => {
  const s = new Scaler(settings, 0);
  let current = 0;
  // A fast app at steady load: most ticks see 1-2 running, some see none.
  for (let t = 0; t < 60_000; t += 100) {
    const running = t % 300 === 0 ? 0 : 2;
    current = s.decide(t, current, { running, pending: 0 }).desired;
    if (t > 1000) assert.equal(current, 1, `at ${t} ms`);
  }
});

test('min and max instances clamp the decision', () => {
  const s = new Scaler({ ...settings, minInstances: 2, maxInstances: 4 }, 0);
  assert.equal(s.decide(0, 0, { running: 0, pending: 0 }).desired, 2);
  assert.equal(s.decide(10_000, 2, { running: 100, pending: 100 }).desired, 4);
});

test('ewma scaler follows a steady rate with a fake clock', () => {
  const s = new Scaler({ ...settings, algorithm: 'ewma' }, 0);
  let desired = 0;
  for (let t = 100; t <= 30_000; t += 100) {
    for (let i = 0; i < 50; i++) s.arrived(); // 500 rps
    for (let i = 0; i < 50; i++) s.completed(50);
    desired = s.decide(t, desired, { running: 25, pending: 0 }).desired;
  }
  // 500 rps × 50 ms at 5 per instance = 5 instances, × 1.2 = 6
  assert.equal(desired, 6);
});

test('backoff grows exponentially with jitter up to a cap and resets on success', () => {
  const b = new Backoff(500, 30_000, () => 1);
  assert.equal(b.failed(0), 500);
  assert.equal(b.failed(0), 1000);
  assert.equal(b.failed(0), 2000);
  for (let i = 0; i < 20; i++) b.failed(0);
  assert.equal(b.failed(0), 30_000);
  assert.equal(b.allows(29_999), false);
  assert.equal(b.allows(30_000), true);
  b.succeeded();
  assert.equal(b.consecutiveFailures, 0);
  assert.equal(b.allows(0), true);
  const low = new Backoff(500, 30_000, () => 0);
  assert.equal(low.failed(0), 250, 'jitter keeps at least half the ceiling');
});

test('token bucket refills at its rate', () => {
  const t = new TokenBucket(2, 1, 0);
  assert.equal(t.take(0), true);
  assert.equal(t.take(0), true);
  assert.equal(t.take(0), false);
  assert.equal(t.take(999), false);
  assert.equal(t.take(1000), true);
});
