// The report a terminal record carries to ingress: the exchange's times as microseconds, NEVER
// for what did not happen, and the record layout round-trips.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NEVER, readReport, reportSize, writeReport } from '../records.ts';
import { Exchange } from './state.ts';

test('an exchange reports its queue wait, first byte and upstream time from its own clock marks', () => {
  const ex = new Exchange(1, 0, 'GET', new Uint8Array(1), 1000, true);
  assert.deepEqual(ex.report(1000.25), { queueUs: 250, firstByteUs: NEVER, upstreamUs: NEVER, retries: 0, instance: '' }, 'never assigned: it only waited');
  ex.assignedAt = 1002;
  ex.servedBy = 'abcd1234';
  assert.deepEqual(ex.report(1003), { queueUs: 2000, firstByteUs: NEVER, upstreamUs: 1000, retries: 0, instance: 'abcd1234' });
  ex.firstByteAt = 1002.5;
  ex.retries = 1;
  assert.deepEqual(ex.report(1004), { queueUs: 2000, firstByteUs: 500, upstreamUs: 2000, retries: 1, instance: 'abcd1234' });
});

test('the report round-trips through its bytes, the instance id cut at 64 characters', () => {
  for (const r of [
    { queueUs: 0, firstByteUs: NEVER, upstreamUs: NEVER, retries: 0, instance: '' },
    { queueUs: 123_456, firstByteUs: 7, upstreamUs: 4_000_000_000, retries: 2, instance: 'worker:box-1' },
  ]) {
    const b = new Uint8Array(reportSize(r) + 3);
    const n = writeReport(b, r);
    assert.equal(n, reportSize(r));
    assert.deepEqual(readReport(b.subarray(0, n + 3)), { report: r, offset: n });
  }
  const long = { queueUs: 1, firstByteUs: 1, upstreamUs: 1, retries: 300, instance: 'x'.repeat(100) };
  const b = new Uint8Array(reportSize(long));
  writeReport(b, long);
  assert.deepEqual(readReport(b).report, { ...long, retries: 255, instance: 'x'.repeat(64) });
});
