import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureTraceContext, fromAmznTraceId, traceIdOf } from './trace-context.ts';

const ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const VALID = `00-${ID}-00f067aa0ba902b7-01`;

test('traceIdOf: the W3C rules', () => {
  assert.equal(traceIdOf(VALID), ID);
  assert.equal(traceIdOf(` ${VALID} `), ID, 'surrounding spaces are allowed');
  assert.equal(traceIdOf(`01-${ID}-00f067aa0ba902b7-01-extra`), ID, 'a later version may append fields');
  for (const bad of [
    `ff-${ID}-00f067aa0ba902b7-01`, // version ff is invalid
    `00-${ID}-00f067aa0ba902b7-01-x`, // version 00 has exactly four fields
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    `00-${ID}-${'0'.repeat(16)}-01`,
    `00-${ID.toUpperCase()}-00f067aa0ba902b7-01`,
    `00-${ID}-00f067aa0ba902b7`,
    '',
    'garbage',
  ]) {
    assert.equal(traceIdOf(bad), null, bad);
  }
});

test('fromAmznTraceId: Root, Parent and Sampled as X-Ray maps them', () => {
  assert.deepEqual(fromAmznTraceId('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'), {
    traceId: '5759e988bd862e3fe1be46a994272793',
    parentId: '53995c3f42cd8ad8',
    sampled: true,
  });
  assert.deepEqual(fromAmznTraceId('Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793'), {
    traceId: '5759e988bd862e3fe1be46a994272793',
    parentId: null,
    sampled: null,
  });
  assert.equal(fromAmznTraceId('Root=2-5759e988-bd862e3fe1be46a994272793'), null);
  assert.equal(fromAmznTraceId('nonsense'), null);
});

test('ensureTraceContext keeps a valid traceparent, replaces an invalid one, makes one when absent', () => {
  const kept = ['host', 'x', 'traceparent', VALID];
  assert.deepEqual(ensureTraceContext(kept), { traceparent: VALID, traceId: ID, amznTraceId: undefined });
  assert.deepEqual(kept, ['host', 'x', 'traceparent', VALID]);

  const invalid = ['traceparent', 'not-a-trace'];
  const fixed = ensureTraceContext(invalid);
  assert.equal(invalid.length, 2, 'replaced in place, not added twice');
  assert.equal(invalid[1], fixed.traceparent);
  assert.equal(traceIdOf(fixed.traceparent), fixed.traceId);

  const fromAlb = ['x-amzn-trace-id', 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0'];
  const alb = ensureTraceContext(fromAlb);
  assert.equal(alb.traceId, '5759e988bd862e3fe1be46a994272793');
  assert.match(alb.traceparent, /^00-5759e988bd862e3fe1be46a994272793-[0-9a-f]{16}-00$/, 'not sampled, as the ALB said');
  assert.equal(alb.amznTraceId, fromAlb[1]);
  assert.deepEqual(fromAlb.slice(2), ['traceparent', alb.traceparent]);

  const ids = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const h: string[] = [];
    const t = ensureTraceContext(h);
    assert.match(t.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    ids.add(t.traceId);
  }
  assert.equal(ids.size, 500, 'fresh trace ids do not repeat (the pool refills)');
});
