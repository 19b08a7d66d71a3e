// The replay rules on their own, with a fake clock: when a lost request goes again, waits, or is answered.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RETRIES, OUTCOME_WAIT_MS, Replays, mayReplay, verdict } from './replays.ts';
import { Exchange, Instance } from './state.ts';

const lambda = () => new Instance('i', Buffer.alloc(0), 1, 0);
const get = (method = 'GET', noBody = true): Exchange => Object.assign(new Exchange(1, 0, method, new Uint8Array(1), 0, noBody), { state: 'sent' as const });

test('silence is the host’s fault: replay whatever the invoke says', () => {
  const inst = lambda();
  inst.outcome = { kind: 'function-error', errorType: 'Sandbox.Timedout', message: 'timed out' };
  assert.equal(verdict(inst, true, 0, 0), 'replay');
});

test('a function error means the environment failed: refuse', () => {
  const inst = lambda();
  inst.outcome = { kind: 'function-error', errorType: 'Runtime.ExitError', message: 'exit 1' };
  assert.equal(verdict(inst, false, 0, 0), 'refuse');
});

test('no outcome yet: wait, then replay once OUTCOME_WAIT_MS has passed', () => {
  const inst = lambda();
  assert.equal(verdict(inst, false, 1000, 1000 + OUTCOME_WAIT_MS - 1), 'wait');
  assert.equal(verdict(inst, false, 1000, 1000 + OUTCOME_WAIT_MS), 'replay');
  inst.outcome = { kind: 'returned', exitReason: 'goaway', requests: 3 };
  assert.equal(verdict(inst, false, 1000, 1001), 'replay');
  inst.outcome = { kind: 'error', name: 'TimeoutError', message: 'socket' };
  assert.equal(verdict(inst, false, 1000, 1001), 'replay');
});

test('a container worker has no invoke to wait for', () => {
  const w = new Instance('worker:w', Buffer.alloc(0), 1, 0, 'worker');
  assert.equal(verdict(w, false, 0, 0), 'replay');
});

test('only idempotent, bodiless requests with attempts left may go again', () => {
  assert.equal(mayReplay(get()), true);
  assert.equal(mayReplay(get('POST')), false);
  assert.equal(mayReplay(get('PUT', false)), false);
  const spent = get();
  spent.retries = MAX_RETRIES;
  assert.equal(mayReplay(spent), false);
  const answered = get();
  answered.state = 'responding';
  assert.equal(mayReplay(answered), false);
});

test('held requests come out by verdict, oldest first; the rest keep waiting', () => {
  const r = new Replays();
  const crashed = lambda();
  const blip = lambda();
  const [a, b, c] = [get(), get(), get()];
  r.hold(a, blip, false, 0);
  r.hold(b, crashed, false, 0);
  r.hold(c, blip, true, 0);
  assert.equal(a.state, 'pending');
  assert.ok(a.failedOn.has(blip));
  crashed.outcome = { kind: 'function-error', errorType: 'Runtime.ExitError', message: 'exit 1' };
  const first = r.decide(10);
  assert.deepEqual(first.refuse, [b]);
  assert.deepEqual(first.replay, [c]);
  assert.equal(r.size, 1);
  assert.deepEqual(r.decide(10 + OUTCOME_WAIT_MS).replay, [a]);
  assert.equal(r.size, 0);
});
