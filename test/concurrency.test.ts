// Concurrency learned per instance, on the whole stack: the extension reports its environment's
// load once a second and the router narrows an instance whose event loop saturates. A CPU-heavy
// route (/cpu: 25 ms of busy loop per request) under more clients than it can serve makes every
// open instance's limit fall below where it started, with the reason and an event saying why.
// (That a CPU-light app grows wider is the bench's to show: on a busy 2-core machine any route
// can look saturated.)

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { INITIAL_CONCURRENT } from '../core/config.ts';
import { call, startStack, waitFor, type Stack } from './stack.ts';

let stack: Stack;
before(async () => {
  stack = await startStack({ routerEnv: { LAMBDA_DISPATCH_MaxInstances: '2' } });
});
after(() => stack?.close());

test('a saturated environment is given fewer requests at once; counters return to zero', async () => {
  let stop = false;
  let answered = 0;
  const client = async () => {
    while (!stop) {
      const r = await call(stack.router.url, '/cpu?ms=25');
      assert.equal(r.status, 200);
      answered++;
    }
  };
  const clients = Array.from({ length: 16 }, client);
  const narrowed = await waitFor(
    () => stack.router.status(),
    (s) => s.concurrency.length > 0 && s.concurrency.every((c) => c.limit < INITIAL_CONCURRENT),
    20_000,
  );
  // Channels follow the limit up, never down: an instance whose limit only fell holds the channels
  // of its initial limit (10 + 2), not the ChannelCount (132) it may hold.
  const followed = await stack.router.status();
  for (const c of followed.concurrency) assert.ok(c.channels <= INITIAL_CONCURRENT + 2, `instance ${c.instance}: ${c.channels} channels at limit ${c.limit}`);
  stop = true;
  await Promise.all(clients);
  assert.ok(answered > 0);
  assert.ok(narrowed.concurrency.length > 0, 'an instance is open');
  for (const c of narrowed.concurrency) {
    assert.ok(c.limit < INITIAL_CONCURRENT, `instance ${c.instance}: limit ${c.limit} (${c.reason})`);
    assert.ok(c.elu !== null && c.elu >= 0.85, `elu ${c.elu}`);
  }
  const events = stack.json.filter((l) => l.type === 'event' && l.event === 'limit');
  assert.ok(events.some((e) => (e.to as number) < (e.from as number) && /^saturated/.test(String(e.reason))), JSON.stringify(events));
  const idle = await waitFor(() => stack.router.status(), (s) => s.inFlight === 0 && s.pending === 0 && s.channels.busy === 0);
  assert.deepEqual([idle.inFlight, idle.pending, idle.channels.busy], [0, 0, 0]);
});
