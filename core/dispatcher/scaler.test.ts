import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, TokenBucket } from '../backoff.ts';
import { Scaler, concurrencyOf, forWaiting, instancesFor, maxStep, targetPerInstance, type Observation, type ScalerSettings } from './scaler.ts';

const settings: ScalerSettings = {
  algorithm: 'simple',
  maxConcurrent: 10,
  instanceCountMultiplier: 2,
  minInstances: 0,
  maxInstances: 100,
  scaleOutIntervalMs: 2000,
  scaleInIntervalMs: 5000,
  idleReleaseMs: 5000,
};

/** An observation with `open` instances of `per` each, none idle unless said. */
function obs(o: Partial<Observation> & { per?: number } = {}): Observation {
  const open = o.open ?? 0;
  return { inFlight: 0, waiting: 0, starting: 0, idleMs: [], capacity: open * (o.per ?? 10), ...o, open };
}

/**
 * Feeds the observation every 100 ms from `from` to `to`, the count open being the last decision's
 * (instances open at once); returns the last decision's count.
 */
function hold(s: Scaler, from: number, to: number, o: Observation & { per?: number }): number {
  const per = o.per ?? 10;
  let open = o.open;
  for (let t = from; t <= to; t += 100) open = s.decide(t, { ...o, open, capacity: open * per }).desired;
  return open;
}

test('headroom: target per instance is the limit over InstanceCountMultiplier (10 and 2 → 5)', () => {
  assert.equal(targetPerInstance(10, 2), 5);
  assert.equal(targetPerInstance(32, 1), 32);
  assert.equal(targetPerInstance(1, 4), 1, 'at least one request per instance');
  assert.equal(instancesFor(10, 5), 2);
  assert.equal(instancesFor(10.0000001, 5), 2, 'an average converging on a multiple asks for no extra');
  assert.equal(instancesFor(10.1, 5), 3);
  assert.equal(instancesFor(0, 5), 0);
  assert.equal(instancesFor(0.01, 5), 1);
  // Steady 10 in flight on the default settings: the smoothed demand settles at 10 → 2 instances.
  const s = new Scaler(settings, 0);
  assert.equal(hold(s, 0, 10_000, obs({ open: 2, inFlight: 10 })), 2);
  assert.equal(hold(s, 10_100, 30_000, obs({ open: 2, inFlight: 20 })), 4, 'then 20 → 4');
});

test('waiting requests: on the average, what they need beyond the instances already starting', () => {
  // 3 open instances of 10, 30 waiting: at most 3 more; none while 3 are starting.
  assert.equal(forWaiting({ open: 3, starting: 0 }, 30, 10), 6);
  assert.equal(forWaiting({ open: 3, starting: 3 }, 30, 10), 6);
  assert.equal(forWaiting({ open: 3, starting: 5 }, 30, 10), 8, 'more starting than needed: no more');
  assert.equal(forWaiting({ open: 3, starting: 0 }, 0, 10), 3);
  const s = new Scaler({ ...settings, instanceCountMultiplier: 1 }, 0);
  hold(s, 0, 10_000, obs({ open: 3, inFlight: 25 }));
  // One tick of 30 waiting moves the 1 s average to ~3: one more instance, not three.
  const d = s.decide(10_100, obs({ open: 3, inFlight: 30, waiting: 30 }));
  assert.equal(d.desired, 4);
  // A queue of 30 that stays: 3 more in all, and none while they start.
  const later = s.decide(12_100, obs({ open: 3, starting: 1, inFlight: 30, waiting: 30 }));
  assert.equal(later.desired, 6);
  const after = s.decide(14_100, obs({ open: 3, starting: 3, inFlight: 30, waiting: 30 }));
  assert.equal(after.desired, 6);
  assert.equal(after.held, 'instances-starting');
});

test('a request that waits a moment while the instances have room starts nothing; a queue that stays does', () => {
  const s = new Scaler({ ...settings, instanceCountMultiplier: 1.25 }, 0);
  // 2 open instances of 20 serving 20 at once, half their room (20 ÷ (20 ÷ 1.25) → 2).
  assert.equal(hold(s, 0, 10_000, obs({ open: 2, per: 20, inFlight: 20 })), 2);
  // Now and then one request meets every channel busy for a tick: the open instances clear it.
  for (let t = 10_100; t <= 30_000; t += 100) {
    const waiting = t % 1000 === 0 ? 1 : 0;
    assert.equal(s.decide(t, obs({ open: 2, per: 20, inFlight: 20, waiting })).desired, 2, `at ${t} ms`);
  }
  // Full instances: one waiting request is enough to ask for another.
  const full = new Scaler({ ...settings, instanceCountMultiplier: 1.25 }, 0);
  hold(full, 0, 10_000, obs({ open: 2, per: 20, inFlight: 40 }));
  assert.equal(full.decide(10_100, obs({ open: 2, per: 20, inFlight: 40, waiting: 1 })).desired, 3);
});

test('capacity per instance comes from the open instances, not the setting', () => {
  // Two open instances that serve 32 each (the setting says 10): 60 running at multiplier 2 → 16
  // per instance → 4 instances, not 12.
  const s = new Scaler(settings, 0);
  assert.equal(hold(s, 0, 20_000, obs({ open: 2, per: 32, inFlight: 60 })), 4);
  assert.equal(s.last.capacity, 128, 'capacity counted: 4 open × 32');
  const withStarting = s.decide(20_100, obs({ open: 2, per: 32, starting: 2, inFlight: 60 }));
  assert.equal(withStarting.capacity, 128, 'starting instances counted at the open ones’ mean');
  // With none open, the setting stands in.
  assert.equal(new Scaler(settings, 0).decide(10_000, obs({ waiting: 25 })).desired, 3);
});

test('status: the decision carries the smoothed demand and the capacity counted', () => {
  const s = new Scaler(settings, 0);
  const first = s.decide(100, obs({ open: 2, inFlight: 20 }));
  assert.ok(first.demand > 1.5 && first.demand < 2.5, `one tick of 20 moves a 1 s average by ~10%: ${first.demand}`);
  assert.equal(first.capacity, 20);
  const d = hold(s, 200, 10_000, obs({ open: 2, inFlight: 20 }));
  assert.equal(d, 4);
  assert.ok(Math.abs(s.last.demand - 20) < 0.01, `${s.last.demand}`);
  assert.match(s.last.reason, /demand=20\.0/);
});

test('sockets are demand of their own: instances for them at MaxSocketsPerInstance over the multiplier, kept while they are held', () => {
  const s = new Scaler({ ...settings, maxSocketsPerInstance: 100 }, 0);
  // 500 WebSockets and no request: 500 ÷ (100 ÷ 2) = 10 instances, reached a step at a time.
  assert.match(s.decide(0, obs({ open: 1, sockets: 500 })).reason, /wants 10 \(.*10 for 500 sockets\)/);
  assert.equal(hold(s, 100, 20_000, obs({ open: 6, sockets: 500 })), 10);
  // An instance holding sockets serves something: no idle release, no scale-in while they stay.
  assert.equal(hold(s, 20_100, 60_000, obs({ open: 10, sockets: 500 })), 10);
  // Without the setting they count for nothing: the instance holding them would be scaled in.
  const none = new Scaler(settings, 0);
  assert.equal(hold(none, 0, 20_000, obs({ open: 1, sockets: 500 })), 0);
});

test('the first request starts one instance at once; the scale-out interval counts from it', () => {
  const s = new Scaler(settings, 0);
  assert.equal(s.first(0, false, 0), null, 'nothing waits');
  assert.equal(s.first(0, true, 5), null, 'something is open or starting');
  assert.equal(s.first(0, false, 1)?.desired, 1);
  // A burst onto nothing: a tick of 100 waiting averages to ~10, which the one starting serves;
  // within the interval no more start however many wait; then what still waits on the average
  // needs beyond the one starting (~87 at 10 each: 9, a step of 5 at most).
  assert.equal(s.decide(100, obs({ starting: 1, waiting: 100 })).held, 'instances-starting');
  assert.equal(s.decide(1000, obs({ starting: 1, waiting: 100 })).held, 'scale-out-interval');
  assert.equal(s.decide(2000, obs({ starting: 1, waiting: 100 })).desired, 6);
});

test('step limit: at most max(5, 33%) per step', () => {
  assert.equal(maxStep(0), 5);
  assert.equal(maxStep(30), 10);
  const s = new Scaler(settings, 0);
  assert.equal(s.decide(100, obs({ waiting: 1000 })).desired, 5, '1000 waiting: ~95 on the average after a tick, wants 10');
});

test('scale-out interval; no scale-in while requests wait; scale-in after the hold, a step per interval', () => {
  const s = new Scaler({ ...settings, idleReleaseMs: 600_000 }, 0);
  assert.equal(s.decide(100, obs({ waiting: 300 })).desired, 3, '300 waiting, ~29 on the average after a tick');
  assert.equal(s.decide(1000, obs({ open: 3, waiting: 400, inFlight: 30 })).desired, 3, 'within 2 s of the last scale-out');
  assert.equal(s.last.held, 'scale-out-interval');
  assert.equal(s.decide(2100, obs({ open: 3, waiting: 400, inFlight: 30 })).desired, 8, 'a step of 5');
  // 20 s of 40 in flight: the smoothed demand wants 8 (40 / 5).
  let current = hold(s, 2200, 22_000, obs({ open: 8, inFlight: 40 }));
  assert.equal(current, 8);
  // Demand falls to 10 (2 instances' worth) and 4 instances have been idle long past
  // IdleReleaseMs, but one request waits (a lost request held until its instance's outcome is
  // known) and one instance is starting for it: nothing leaves, nothing more starts.
  const d = s.decide(22_100, obs({ open: 8, starting: 1, inFlight: 10, waiting: 1, idleMs: [600_000, 600_000, 600_000, 600_000] }));
  assert.equal(d.desired, 9);
  assert.equal(d.held, 'instances-starting');
  // Without waiting, nothing leaves until demand has stayed low for 2 × ScaleInIntervalMs (10 s).
  let firstIn = -1;
  for (let t = 22_200; t <= 60_000; t += 100) {
    const d = s.decide(t, obs({ open: current, inFlight: 10 }));
    if (d.desired < current && firstIn < 0) firstIn = t;
    if (d.desired < current) assert.ok(current - d.desired <= 5, 'a step at most');
    current = d.desired;
  }
  assert.ok(firstIn >= 22_000 + 10_000 && firstIn <= 22_000 + 11_000, `first scale-in at ${firstIn}`);
  assert.equal(current, 2);
});

test('an instant of idleness under steady load does not scale in', () => {
  const s = new Scaler(settings, 0);
  let current = 0;
  // A fast app at steady load: most ticks see 1-2 running, some see none.
  for (let t = 0; t < 60_000; t += 100) {
    const inFlight = t % 300 === 0 ? 0 : 2;
    current = s.decide(t, obs({ open: current, inFlight, waiting: current === 0 ? 1 : 0 })).desired;
    if (t > 1000) assert.equal(current, 1, `at ${t} ms`);
  }
});

test('min and max instances clamp the decision', () => {
  const s = new Scaler({ ...settings, minInstances: 2, maxInstances: 4 }, 0);
  assert.equal(s.decide(0, obs()).desired, 2);
  assert.equal(s.decide(10_000, obs({ open: 2, inFlight: 20, waiting: 100 })).desired, 4);
  // Idle for far longer than IdleReleaseMs: MinInstances still holds.
  assert.equal(hold(s, 10_100, 60_000, obs({ open: 4, idleMs: [60_000, 60_000, 60_000, 60_000] })), 2);
});

test('idle release: instances with no request for IdleReleaseMs leave a step per tick, not a scale-in interval', () => {
  const s = new Scaler({ ...settings, idleReleaseMs: 5000 }, 0);
  hold(s, 0, 30_000, obs({ open: 12, inFlight: 60 }));
  // The load stops at 30 s: every instance idle since then.
  let current = 12;
  const releases: number[] = [];
  for (let t = 30_100; t <= 40_000; t += 100) {
    const d = s.decide(t, obs({ open: current, idleMs: Array.from({ length: current }, () => t - 30_000) }));
    if (d.desired < current) {
      releases.push(t);
      assert.match(d.reason, /idle-release/);
      assert.ok(current - d.desired <= maxStep(current));
    }
    current = d.desired;
  }
  assert.equal(current, 0);
  assert.deepEqual(releases, [35_000, 35_100, 35_200], 'at IdleReleaseMs: 12 → 7 → 2 → 0');
});

test('idle release keeps what the remaining demand needs', () => {
  const s = new Scaler(settings, 0);
  // 6 instances, 3 requests in flight (1 instance's worth at target 5); then 4 have been idle 6 s.
  for (let t = 0; t < 6000; t += 100) assert.equal(s.decide(t, obs({ open: 6, inFlight: 3 })).desired, 6, 'within the hold');
  const d = s.decide(6000, obs({ open: 6, inFlight: 3, idleMs: [6000, 6000, 6000, 6000] }));
  assert.equal(d.desired, 2, 'the 4 idle ones leave (6 → 2), though the demand alone would keep 1');
  assert.match(d.reason, /idle-release: 4 idle/);
});

test('ewma: Little’s law from 5 s averages of arrival rate and duration', () => {
  assert.equal(concurrencyOf(1000, 50), 50);
  assert.equal(concurrencyOf(2500, 0.5), concurrencyOf(2500, 2), 'durations under 2 ms count as 2 ms');
  assert.equal(concurrencyOf(0, 50), 0);
  const s = new Scaler({ ...settings, algorithm: 'ewma' }, 0);
  let desired = 0;
  for (let t = 100; t <= 30_000; t += 100) {
    for (let i = 0; i < 50; i++) s.arrived(); // 500 rps
    for (let i = 0; i < 50; i++) s.completed(50);
    desired = s.decide(t, obs({ open: desired, inFlight: 25 })).desired;
  }
  // 500 rps × 50 ms = 25 at once, at 5 per instance = 5 instances.
  assert.equal(desired, 5);
});

// ── trace replays ───────────────────────────────────────────────────────────────────────────────
//
// Recorded-style traces: what was in flight and waiting at each 100 ms tick. What a fleet serves
// depends on the fleet, so the replay takes their sum as the offered demand and splits it again by
// the simulated fleet's open capacity. The simulated fleet starts an instance when told, opens it
// after COLD_START_MS, and hands requests out as the fleet does (the least busy instance, the
// oldest first on a tie), so an instance is busy while in-flight ≥ its position.

const COLD_START_MS = 2000;
const PER = 10;
const TRACE_SETTINGS: ScalerSettings = { ...settings, instanceCountMultiplier: 1.25 };

interface Tick {
  t: number;
  inFlight: number;
  waiting: number;
}

interface Row {
  t: number;
  demand: number;
  open: number;
  starting: number;
  count: number;
  inFlight: number;
  waiting: number;
}

interface Sim {
  openAt: number;
  lastBusyAt: number;
}

function replay(trace: readonly Tick[], s: ScalerSettings = TRACE_SETTINGS): Row[] {
  const scaler = new Scaler(s, trace[0]!.t);
  let fleet: Sim[] = [];
  const rows: Row[] = [];
  const start = (t: number) => fleet.push({ openAt: t + COLD_START_MS, lastBusyAt: t + COLD_START_MS });
  for (const { t, inFlight: recordedInFlight, waiting: recordedWaiting } of trace) {
    const demand = recordedInFlight + recordedWaiting;
    const open = fleet.filter((i) => i.openAt <= t);
    const inFlight = Math.min(demand, open.length * PER);
    const waiting = demand - inFlight;
    // What the relay does on an arriving request that has to wait.
    if (waiting > 0 && scaler.first(t, fleet.length > 0, waiting) !== null) start(t);
    open.forEach((inst, i) => {
      if (i < inFlight) inst.lastBusyAt = t;
    });
    const o: Observation = {
      inFlight,
      waiting,
      open: open.length,
      starting: fleet.length - open.length,
      capacity: open.length * PER,
      idleMs: open.filter((_, i) => i >= inFlight).map((inst) => t - inst.lastBusyAt),
    };
    const d = scaler.decide(t, o);
    const current = fleet.length;
    for (let n = d.desired - current; n > 0; n--) start(t);
    if (d.desired < current) {
      // The fleet's scaleInOrder: idle before busy, longest idle first.
      const order = [...open].sort((a, b) => Number(a.lastBusyAt === t) - Number(b.lastBusyAt === t) || a.lastBusyAt - b.lastBusyAt);
      const leave = new Set(order.slice(0, current - d.desired));
      fleet = fleet.filter((i) => !leave.has(i));
    }
    const nowOpen = fleet.filter((i) => i.openAt <= t).length;
    rows.push({ t, demand, open: nowOpen, starting: fleet.length - nowOpen, count: fleet.length, inFlight, waiting });
  }
  return rows;
}

/** A trace of `ms` at 100 ms ticks whose offered demand at time t is demandAt(t). */
function trace(ms: number, demandAt: (t: number) => number): Tick[] {
  const out: Tick[] = [];
  for (let t = 0; t <= ms; t += 100) out.push({ t, inFlight: Math.round(demandAt(t)), waiting: 0 });
  return out;
}

const need = (demand: number) => Math.ceil(demand / PER);
const maxCount = (rows: Row[]) => Math.max(...rows.map((r) => r.count));
const firstAt = (rows: Row[], ok: (r: Row) => boolean) => rows.find(ok)?.t ?? Infinity;
const scaleIns = (rows: Row[]) => rows.filter((r, i) => i > 0 && r.count < rows[i - 1]!.count).length;

test('replay (a), a hiccup at steady load: 25 on 3 × 10, 300 ms where 30 wait → one more instance at most (never above 4), back to 3 within 11 s', () => {
  // Multiplier 1 so that 3 instances are the steady state for 25, as in the measured run.
  const rows = replay(
    trace(60_000, (t) => (t >= 30_000 && t < 30_300 ? 60 : 25)),
    { ...TRACE_SETTINGS, instanceCountMultiplier: 1 },
  );
  const before = rows.filter((r) => r.t >= 20_000 && r.t < 30_000);
  assert.ok(before.every((r) => r.count === 3 && r.waiting === 0), 'steady: 3 instances, nothing waits');
  const spike = rows.find((r) => r.t === 30_000)!;
  assert.equal(spike.waiting, 30);
  const after = rows.filter((r) => r.t >= 30_000);
  assert.ok(maxCount(after) <= 4, `at most ${maxCount(after)}`);
  const backTo3 = firstAt(after.filter((r) => r.t > 30_300), (r) => r.count <= 3);
  assert.ok(backTo3 - 30_300 <= 11_000, `3 again ${backTo3 - 30_300} ms after the hiccup`);
  assert.ok(rows.filter((r) => r.t > backTo3).every((r) => r.count === 3), 'and stays there');
});

test('replay (b), a burst 10 → 100 at once: ≥ 10 instances within 4.5 s, nothing waits after 6.5 s (the 1 s average, two scale-out intervals, a cold start), never above 15 (1.5 × 10)', () => {
  const rows = replay(trace(50_000, (t) => (t < 20_000 ? 10 : 100)));
  assert.ok(rows.filter((r) => r.t >= 10_000 && r.t < 20_000).every((r) => r.count === 2), 'before: 2 (10 at 8 per instance)');
  const burst = rows.filter((r) => r.t >= 20_000);
  const ten = firstAt(burst, (r) => r.count >= 10);
  const served = firstAt(burst, (r) => r.waiting === 0 && r.open >= 10);
  assert.ok(ten - 20_000 <= 4500, `≥ 10 after ${ten - 20_000} ms`);
  assert.ok(served - 20_000 <= 6500, `all served after ${served - 20_000} ms`);
  assert.ok(burst.filter((r) => r.t >= served).every((r) => r.waiting === 0), 'and nothing waits again');
  assert.ok(maxCount(rows) <= 15, `at most ${maxCount(rows)}`);
  assert.equal(rows.at(-1)!.count, 13, 'settles at 100 / 8 per instance');
});

test('replay (c), a slow ramp 0 → 60 over 30 s: never above 1.5 × need (rounded up: 2 for a need of 1), room for the demand of 3 s before', () => {
  const rows = replay(trace(40_000, (t) => Math.min(60, (60 * t) / 30_000)));
  for (const r of rows) {
    assert.ok(r.count <= Math.ceil(1.5 * need(r.demand)), `at ${r.t} ms: ${r.count} for a demand of ${r.demand}`);
    const before = rows.find((x) => x.t === r.t - 3000);
    if (before !== undefined) assert.ok(r.count * PER >= before.demand, `at ${r.t} ms: ${r.count} × ${PER} < ${before.demand} (3 s before)`);
  }
  assert.equal(rows.at(-1)!.count, 8, '60 at 8 per instance');
});

test('replay (d), a sawtooth 10 / 60 every 5 s: once grown, no scale-in at all; within [need(10), 1.5 × need(60)] = [1, 9]', () => {
  const rows = replay(trace(90_000, (t) => (Math.floor(t / 5000) % 2 === 0 ? 10 : 60)));
  const settled = rows.filter((r) => r.t >= 20_000);
  assert.equal(scaleIns(settled), 0, 'the count does not follow each cycle down');
  assert.ok(settled.every((r) => r.count >= need(10) && r.count <= 1.5 * need(60)), `counts ${[...new Set(settled.map((r) => r.count))]}`);
  assert.equal(new Set(rows.filter((r) => r.t >= 30_000).map((r) => r.count)).size, 1, 'one count from 30 s on');
});

test('replay (e), the idle tail: after the load stops every instance is gone within IdleReleaseMs + 500 ms; MinInstances stays', () => {
  const stop = 20_000;
  const load = (t: number) => (t < stop ? 60 : 0);
  const rows = replay(trace(40_000, load));
  assert.equal(rows.find((r) => r.t === stop - 100)!.count, 8);
  const gone = firstAt(rows, (r) => r.t >= stop && r.count === 0);
  assert.ok(gone - stop <= TRACE_SETTINGS.idleReleaseMs + 500, `all gone ${gone - stop} ms after the load`);
  assert.ok(gone - stop >= TRACE_SETTINGS.idleReleaseMs, 'not before IdleReleaseMs');
  const kept = replay(trace(40_000, load), { ...TRACE_SETTINGS, minInstances: 2 });
  assert.equal(kept.at(-1)!.count, 2);
});

test('backoff grows exponentially with jitter up to a cap and resets on success', () => {
  const b = new Backoff(500, 30_000, () => 1);
  assert.equal(b.failed(0), 500);
  assert.equal(b.failed(0), 1000);
  assert.equal(b.failed(0), 2000);
  for (let i = 0; i < 20; i++) b.failed(0);
  assert.equal(b.failed(0), 30_000);
  assert.equal(b.allows(29_999), false);
  assert.equal(b.allows(30_000), true);
  b.succeeded();
  assert.equal(b.consecutiveFailures, 0);
  assert.equal(b.allows(0), true);
  const low = new Backoff(500, 30_000, () => 0);
  assert.equal(low.failed(0), 250, 'jitter keeps at least half the ceiling');
});

test('token bucket refills at its rate', () => {
  const t = new TokenBucket(2, 1, 0);
  assert.equal(t.take(0), true);
  assert.equal(t.take(0), true);
  assert.equal(t.take(0), false);
  assert.equal(t.take(999), false);
  assert.equal(t.take(1000), true);
});
