import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { NEVER } from '../../core/records.ts';
import { ForwardedHeaders } from '../forwarded.ts';
import { AccessLog } from './access-log.ts';
import { createLogger } from './logger.ts';
import type { RequestRecord } from './request-record.ts';

function capture(level: 'info' | 'warn' = 'info') {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger(level, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }) };
}

const req = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff ? { 'x-forwarded-for': xff } : {} }) as unknown as IncomingMessage;

function record(o: Partial<RequestRecord> = {}): RequestRecord {
  return {
    req: req('10.0.1.5', '198.51.100.7, 10.0.0.9'),
    method: 'GET',
    target: '/a?b=1',
    status: 200,
    startedAt: 0,
    durationMs: 12.3456789,
    bytesIn: 0,
    bytesOut: 5,
    report: { queueUs: 1500, firstByteUs: 8000, upstreamUs: NEVER, retries: 1, instance: 'abcd1234' },
    routerError: null,
    aborted: false,
    trace: { traceparent: 't', traceId: 'f'.repeat(32), amznTraceId: undefined },
    ...o,
  };
}

test('a line has every field; times in ms with µs precision; never-reached parts are null', () => {
  const { lines, logger } = capture();
  new AccessLog(logger, 1, new ForwardedHeaders(['10.0.0.0/16'])).write(record());
  const [l] = lines;
  assert.deepEqual(
    { ...l, time: typeof l!.time },
    {
      level: 'info',
      time: 'string',
      type: 'access',
      msg: 'GET /a?b=1 200',
      method: 'GET',
      path: '/a?b=1',
      status: 200,
      bytesIn: 0,
      bytesOut: 5,
      durationMs: 12.346,
      queueMs: 1.5,
      firstByteMs: 8,
      upstreamMs: null,
      instance: 'abcd1234',
      retries: 1,
      aborted: false,
      error: null,
      // The ALB's subnet is trusted: the client is the nearest untrusted address it forwarded.
      client: '198.51.100.7',
      traceId: 'f'.repeat(32),
      amznTraceId: null,
    },
  );
});

test('an untrusted peer is the client, whatever X-Forwarded-For it sends', () => {
  const { lines, logger } = capture();
  new AccessLog(logger, 1, new ForwardedHeaders([])).write(record({ req: req('203.0.113.9', '1.2.3.4') }));
  assert.equal(lines[0]!.client, '203.0.113.9');
});

test('sampling keeps the share asked for, and always a 5xx or an abort', () => {
  const { lines, logger } = capture();
  let r = 0;
  const log = new AccessLog(logger, 0.25, new ForwardedHeaders([]), () => (r++ % 4) / 4);
  for (let i = 0; i < 100; i++) log.write(record());
  assert.equal(lines.length, 25);
  log.write(record({ status: 502, routerError: 'LD_INSTANCE_LOST' }));
  log.write(record({ aborted: true, status: 0 }));
  const none = new AccessLog(logger, 0, new ForwardedHeaders([]), () => 0);
  none.write(record());
  none.write(record({ status: 503 }));
  assert.deepEqual(lines.slice(25).map((l) => l.status), [502, 0, 503]);
});

test('LAMBDA_DISPATCH_LogLevel=warn turns the access log off', () => {
  const { lines, logger } = capture('warn');
  new AccessLog(logger, 1, new ForwardedHeaders([])).write(record({ status: 500 }));
  assert.equal(lines.length, 0);
});
