import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SECONDS_BUCKETS } from '../telemetry/metrics.ts';
import { quantileBetween } from './quantiles.js';

const LE = [0.01, 0.1, 1, Infinity];

/** Equal up to floating point's rounding. */
function near(actual: number | null, expected: number): void {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${actual} ≈ ${expected}`);
}

test('a quantile is interpolated inside the bucket of the requests that ended between the snapshots', () => {
  // 100 requests in between: 10 up to 10 ms, 80 in (10 ms, 100 ms], 10 in (100 ms, 1 s].
  const before = [5, 20, 30, 31];
  const after = [15, 110, 130, 131];
  // rank 50: the 40th of the 80 in (0.01, 0.1]
  near(quantileBetween(LE, before, after, 0.5), 0.01 + 0.09 * (40 / 80));
  // rank 99: the 9th of the 10 in (0.1, 1]
  near(quantileBetween(LE, before, after, 0.99), 0.1 + 0.9 * 0.9);
  // rank 5 in the first bucket, whose lower bound is 0
  near(quantileBetween(LE, before, after, 0.05), 0.005);
  // exactly at a bucket's top
  assert.equal(quantileBetween(LE, before, after, 0.9), 0.1);
});

test('what came before the earlier snapshot does not count', () => {
  // Slow requests long ago, fast ones in the last second.
  const before = [0, 0, 0, 1000];
  const after = [10, 10, 10, 1010];
  near(quantileBetween(LE, before, after, 0.99), 0.01 * 0.99);
});

test('empty buckets are skipped: q=0 is the bottom of the first bucket that holds a request', () => {
  const before = [0, 0, 0, 0];
  const after = [0, 0, 4, 4];
  assert.equal(quantileBetween(LE, before, after, 0), 0.1);
  assert.equal(quantileBetween(LE, before, after, 1), 1);
  near(quantileBetween(LE, before, after, 0.5), 0.1 + 0.9 * 0.5);
});

test('in the unbounded bucket the answer is the highest finite bound; JSON\'s null stands for Infinity', () => {
  const before = [0, 0, 0, 0];
  const after = [0, 0, 0, 3];
  assert.equal(quantileBetween(LE, before, after, 0.5), 1);
  assert.equal(quantileBetween([0.01, 0.1, 1, null], before, after, 0.5), 1);
  near(quantileBetween([0.01, 0.1, 1, null], [0, 0, 0, 0], [2, 2, 2, 2], 0.5), 0.005);
});

test('null when nothing ended in between, when a count went down (a restart) or the snapshots do not match', () => {
  assert.equal(quantileBetween(LE, [1, 2, 3, 4], [1, 2, 3, 4], 0.5), null);
  assert.equal(quantileBetween(LE, [1, 2, 3, 4], [0, 0, 1, 1], 0.5), null);
  assert.equal(quantileBetween(LE, [1, 2, 3], [1, 2, 3, 4], 0.5), null);
  assert.equal(quantileBetween([], [], [], 0.5), null);
});

test('with the router\'s own buckets: 1000 requests spread evenly over 5-10 ms give p50 ≈ 7.5 ms', () => {
  const le = [...SECONDS_BUCKETS, Infinity];
  const before = le.map(() => 0);
  // all 1000 in (5 ms, 10 ms]
  const after = le.map((b) => (b < 0.01 ? 0 : 1000));
  near(quantileBetween(le, before, after, 0.5), 0.0075);
  near(quantileBetween(le, before, after, 0.99), 0.00995);
});
