// The per-instance concurrency law with made-up load reports and a fake clock: it rises only for
// an instance that used half its slots or more and would have headroom with all of them in use, falls fast on saturation, holds between,
// stays in its bounds, and is fixed when the bounds are equal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyLimit, HEADROOM_ELU, RAISE_COOLDOWN_MS, SATURATED_ELU } from './concurrency.ts';

const load = (elu: number) => ({ elu, cpu: elu, requests: 100, intervalMs: 1000 });

test('a CPU-light app that fills its slots grows to the maximum, a step of an eighth at a time', () => {
  const c = new ConcurrencyLimit({ min: 1, max: 32, initial: 10 });
  const seen = [c.limit];
  for (let t = 1; t <= 20; t++) seen.push(c.report(load(0.3), c.limit, t * 1000).limit);
  assert.deepEqual(seen.slice(0, 6), [10, 12, 14, 16, 18, 21]);
  assert.equal(c.limit, 32);
  assert.equal(c.report(load(0.3), 32, 21_000).reason, 'headroom at the maximum (elu 0.30)');
});

test('no raise without demand: an instance that did not use its slots keeps its limit', () => {
  const c = new ConcurrencyLimit({ min: 1, max: 32, initial: 10 });
  for (let t = 1; t <= 10; t++) c.report(load(0.1), 4, t * 1000);
  assert.equal(c.limit, 10);
  assert.match(c.reason, /^steady \(elu 0\.10, used 4 of 10\)$/);
});

test('half the slots used is enough to earn a raise when the utilisation projected to all of them has headroom', () => {
  const c = new ConcurrencyLimit({ min: 1, max: 32, initial: 10 });
  c.report(load(0.1), 5, 1000); // 0.1 at 5 of 10 → about 0.2 at 10
  assert.equal(c.limit, 12);
  assert.match(c.reason, /^headroom \(elu 0\.10, used 5 of 10\)$/);
  c.report(load(0.35), 6, 2000); // 0.35 at 6 of 12 → 0.7 at 12: not enough room
  assert.equal(c.limit, 12);
  assert.match(c.reason, /^steady/);
});

test('a CPU-heavy app that saturates falls by a quarter per report to the minimum', () => {
  const c = new ConcurrencyLimit({ min: 2, max: 32, initial: 10 });
  const seen = [c.limit];
  for (let t = 1; t <= 6; t++) seen.push(c.report(load(0.97), c.limit, t * 1000).limit);
  assert.deepEqual(seen, [10, 7, 5, 3, 2, 2, 2]);
  assert.equal(c.reason, 'saturated at the minimum (elu 0.97)');
});

test('between the thresholds it holds; after a cut it waits before it raises again', () => {
  const c = new ConcurrencyLimit({ min: 1, max: 32, initial: 16 });
  c.report(load((HEADROOM_ELU + SATURATED_ELU) / 2), 16, 1000);
  assert.equal(c.limit, 16, 'between the thresholds: hold');
  c.report(load(SATURATED_ELU), 16, 2000);
  assert.equal(c.limit, 12);
  c.report(load(0.2), 12, 2000 + RAISE_COOLDOWN_MS - 1);
  assert.equal(c.limit, 12, 'no raise inside the cool-down');
  c.report(load(0.2), 12, 2000 + RAISE_COOLDOWN_MS);
  assert.equal(c.limit, 14);
});

test('equal bounds: the old fixed limit, whatever the reports say', () => {
  const c = new ConcurrencyLimit({ min: 10, max: 10, initial: 10 });
  assert.ok(c.fixed);
  for (const elu of [0.1, 0.99, 0.5]) assert.deepEqual(c.report(load(elu), 10, 1000), { limit: 10, reason: 'fixed' });
  assert.equal(c.elu, 0.5, 'the last figures are still kept for the status page');
});

test('the initial limit is clamped into the bounds', () => {
  assert.equal(new ConcurrencyLimit({ min: 1, max: 4, initial: 10 }).limit, 4);
  assert.equal(new ConcurrencyLimit({ min: 12, max: 32, initial: 10 }).limit, 12);
});
