import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from './token-bucket.ts';

test('a burst, then the rate', () => {
  const b = new TokenBucket(10, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.take(50), false, 'half a token');
  assert.equal(b.take(100), true, 'one token after 100 ms at 10/s');
  assert.equal(b.take(100), false);
  // Saving up stops at the burst.
  assert.deepEqual([b.take(10_000), b.take(10_000), b.take(10_000), b.take(10_000)], [true, true, true, false]);
  // A clock that goes back never adds tokens.
  assert.equal(b.take(5_000), false);
});
