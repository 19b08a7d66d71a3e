// The two control loops together, on a simulated fleet with a fake clock: the real Scaler and one
// real ConcurrencyLimit per instance, with the defaults a router starts with. Each simulated
// instance opens a second after it is started, takes requests as the relay gives them (to the one
// with the fewest, up to its limit), and reports an event-loop utilisation that grows with what it
// serves: an I/O-bound route (/delay) barely loads its loop, a CPU-bound one (/cpu) saturates it at
// a few requests. Steady demand must settle on a count within 1.5 × what it needs at the limits the
// instances learned (the bench's steady bound), wide for the first and narrow for the second.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INITIAL_CONCURRENT, loadRouterConfig } from '../config.ts';
import { ConcurrencyLimit } from './concurrency.ts';
import { Scaler, type Observation } from './scaler.ts';

interface SimInstance {
  startedAt: number;
  limit: ConcurrencyLimit;
  busy: number;
  peak: number;
  lastBusyAt: number;
}

const COLD_START_MS = 1000;
const TICK_MS = 100;

/** Runs `seconds` of a steady `inFlight` whose loop cost is `eluPerRequest` each; the end state. */
function simulate(inFlight: number, eluPerRequest: number, seconds: number) {
  const c = loadRouterConfig({});
  const scaler = new Scaler(
    {
      algorithm: c.scalingAlgorithm,
      maxConcurrent: INITIAL_CONCURRENT,
      instanceCountMultiplier: c.instanceCountMultiplier,
      minInstances: c.minInstances,
      maxInstances: c.maxInstances,
      scaleOutIntervalMs: c.scaleOutIntervalMs,
      scaleInIntervalMs: c.scaleInIntervalMs,
      idleReleaseMs: c.idleReleaseMs,
    },
    0,
  );
  const limits = { min: c.minConcurrentCount, max: c.maxConcurrentCount, initial: INITIAL_CONCURRENT };
  let fleet: SimInstance[] = [];
  const counts: number[] = [];
  for (let now = 0; now <= seconds * 1000; now += TICK_MS) {
    const open = fleet.filter((i) => now - i.startedAt >= COLD_START_MS);
    for (const i of open) i.busy = 0;
    let served = 0;
    // The relay's rule: the open instance with the fewest in flight and room under its limit.
    for (; served < inFlight; served++) {
      let best: SimInstance | undefined;
      for (const i of open) if (i.busy < i.limit.limit && (best === undefined || i.busy < best.busy)) best = i;
      if (best === undefined) break;
      best.busy++;
    }
    for (const i of open) {
      i.peak = Math.max(i.peak, i.busy);
      if (i.busy > 0) i.lastBusyAt = now;
      if ((now - i.startedAt - COLD_START_MS) % 1000 === 0 && now > i.startedAt + COLD_START_MS) {
        const elu = Math.min(1, 0.02 + eluPerRequest * i.busy);
        i.limit.report({ elu, cpu: elu, requests: 0, intervalMs: 1000 }, i.peak, now);
        i.peak = i.busy;
      }
    }
    const o: Observation = {
      inFlight: served,
      waiting: inFlight - served,
      open: open.length,
      starting: fleet.length - open.length,
      capacity: open.reduce((n, i) => n + i.limit.limit, 0),
      idleMs: open.filter((i) => i.busy === 0).map((i) => now - Math.max(i.lastBusyAt, i.startedAt + COLD_START_MS)),
    };
    const { desired } = scaler.decide(now, o);
    while (fleet.length < desired) fleet.push({ startedAt: now, limit: new ConcurrencyLimit(limits), busy: 0, peak: 0, lastBusyAt: now });
    if (fleet.length > desired) {
      // Scale-in takes the least busy first (observe.ts scaleInOrder).
      fleet = [...fleet].sort((a, b) => a.busy - b.busy).slice(fleet.length - desired);
    }
    if (now % 1000 === 0) counts.push(fleet.length);
  }
  const meanLimit = fleet.reduce((n, i) => n + i.limit.limit, 0) / fleet.length;
  return { count: fleet.length, meanLimit, need: Math.max(1, Math.ceil(inFlight / meanLimit)), counts };
}

test('an I/O-bound load settles on few wide instances, within 1.5 × what it needs', () => {
  const r = simulate(50, 0.004, 90);
  assert.ok(r.meanLimit > INITIAL_CONCURRENT, `limits grew past ${INITIAL_CONCURRENT}: mean ${r.meanLimit}`);
  assert.ok(r.count <= Math.ceil(1.5 * r.need), `${r.count} instances for a need of ${r.need} (counts ${r.counts.join(' ')})`);
});

test('a CPU-bound load settles on narrow instances, within 1.5 × what it needs', () => {
  const r = simulate(50, 0.12, 90);
  assert.ok(r.meanLimit < INITIAL_CONCURRENT, `limits fell below ${INITIAL_CONCURRENT}: mean ${r.meanLimit}`);
  assert.ok(r.count <= Math.ceil(1.5 * r.need), `${r.count} instances for a need of ${r.need} (counts ${r.counts.join(' ')})`);
  assert.ok(r.count >= r.need, `enough instances for the load: ${r.count} of ${r.need}`);
});
