// Request slots: never more than max at once, every accepted request counted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Capacity } from './capacity.ts';

test('capacity: acquire up to max, release frees a slot, requests counts every acquire', () => {
  const c = new Capacity(2);
  assert.equal(c.acquire(), true);
  assert.equal(c.acquire(), true);
  assert.equal(c.acquire(), false);
  assert.equal(c.inFlight, 2);
  c.release();
  assert.equal(c.inFlight, 1);
  assert.equal(c.acquire(), true);
  assert.equal(c.requests, 3);
});
