import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { NEVER } from '../../core/records.ts';
import type { RouterStatus } from '../admin.ts';
import { EMF_METRICS, EmfAggregator } from './emf.ts';
import type { RequestRecord } from './request-record.ts';

function record(status: number, durationMs: number, queueUs = 100, upstreamUs = 1000): RequestRecord {
  return {
    req: {} as IncomingMessage,
    method: 'GET',
    target: '/',
    status,
    startedAt: 0,
    durationMs,
    bytesIn: 0,
    bytesOut: 0,
    report: { queueUs, firstByteUs: 500, upstreamUs, retries: 0, instance: 'abcd1234' },
    routerError: null,
    aborted: false,
    trace: null,
  };
}

const status = (started: number, failed: number) =>
  ({ invokes: { started, failed }, inFlight: 3, pending: 2, instances: { starting: 1, open: 4, draining: 1, closing: 7 } }) as unknown as RouterStatus;

test('one document per interval: counts by class, deltas of invokes, gauges at the flush', () => {
  const a = new EmfAggregator('NS', 'svc');
  for (let i = 0; i < 10; i++) a.observe(record(200, 5));
  a.observe(record(404, 5));
  a.observe(record(503, 5));
  a.observe({ ...record(0, 5), routerError: 'LD_INSTANCE_LOST', report: null });
  const doc = a.flush(1_700_000_000_000.4, status(5, 1));
  assert.equal(doc._aws.Timestamp, 1_700_000_000_000);
  assert.deepEqual(doc._aws.CloudWatchMetrics, [
    { Namespace: 'NS', Dimensions: [['Service']], Metrics: Object.entries(EMF_METRICS).map(([Name, Unit]) => ({ Name, Unit })) },
  ]);
  assert.equal(doc.Service, 'svc');
  assert.deepEqual([doc.Requests, doc.Responses4xx, doc.Responses5xx], [13, 1, 2], 'a reset with no response counts as a 5xx');
  assert.deepEqual([doc.Invokes, doc.InvokeFailures, doc.InFlight, doc.Waiting, doc.Instances], [5, 1, 3, 2, 6]);
  assert.equal((doc.RequestDuration as number[]).length, 13);
  assert.equal((doc.QueueWait as number[]).length, 12, 'the one that never reached the dispatcher has no queue wait');
  assert.deepEqual(doc.AppTime, Array(12).fill(1));

  const next = a.flush(1_700_000_060_000, status(7, 1));
  assert.deepEqual([next.Requests, next.Invokes, next.InvokeFailures], [0, 2, 0], 'the next interval starts from zero');
  const names = (next._aws.CloudWatchMetrics[0] as { Metrics: { Name: string }[] }).Metrics.map((m) => m.Name);
  assert.ok(!names.includes('RequestDuration') && !('RequestDuration' in next), 'an empty distribution is left out (CloudWatch rejects [])');
});

test('more than 100 values: 100 quantiles, so p50 and p99 survive', () => {
  const a = new EmfAggregator('NS', 'svc');
  // 10,000 requests: 1..10000 µs of upstream time, so pN ≈ N × 100 µs.
  for (let i = 1; i <= 10_000; i++) a.observe(record(200, i / 1000, 10, i));
  const doc = a.flush(0, null);
  const values = doc.AppTime as number[];
  assert.equal(values.length, 100);
  const sorted = [...values].sort((x, y) => x - y);
  assert.deepEqual(values, sorted);
  const p = (q: number) => sorted[Math.min(99, Math.floor(q * 100))]!;
  assert.ok(Math.abs(p(0.5) - 5) / 5 < 0.03, `p50 ${p(0.5)} ms`);
  assert.ok(Math.abs(p(0.99) - 9.9) / 9.9 < 0.03, `p99 ${p(0.99)} ms`);
  assert.equal(doc.Requests, 10_000, 'the count is the Requests metric, not the samples');
});

test('a request whose upstream never ran has no AppTime sample', () => {
  const a = new EmfAggregator('NS', 'svc');
  a.observe(record(504, 60_000, 60_000_000, NEVER));
  const doc = a.flush(0, null);
  assert.ok(!('AppTime' in doc));
  assert.deepEqual(doc.QueueWait, [60_000]);
});
