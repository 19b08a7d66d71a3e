// How many Lambda instances the router wants, as a pure function of what the fleet observes at each
// tick and an injected clock (docs/ARCHITECTURE.md, "Scaling"). The fleet feeds it observations and
// carries out its decisions; tests replay traces through it with a fake clock.

export interface ScalerSettings {
  algorithm: 'simple' | 'ewma';
  /** Requests one instance serves at once, assumed while no instance is open to say otherwise. */
  maxConcurrent: number;
  instanceCountMultiplier: number;
  minInstances: number;
  maxInstances: number;
  scaleOutIntervalMs: number;
  scaleInIntervalMs: number;
  /** An instance that has served nothing for this long is released (config.ts says why 5 s). */
  idleReleaseMs: number;
  /** Upgraded connections one instance may hold (0: none are counted). */
  maxSocketsPerInstance?: number;
}

/** What the fleet sees at a tick, of its Lambda instances only (container workers are apart). */
export interface Observation {
  /** Requests being served by Lambda instances. */
  inFlight: number;
  /** Requests waiting for a channel. */
  waiting: number;
  /** Instances open and staying (not leaving for their deadline). */
  open: number;
  /** Instances invoked that have no channel yet. */
  starting: number;
  /** The sum of the open instances' per-instance limits (requests at once). */
  capacity: number;
  /** Upgraded connections (WebSockets) held by Lambda instances: demand of their own. */
  sockets?: number;
  /** For each open instance serving nothing now: how long since its last request, in ms. */
  idleMs: readonly number[];
}

/** Why the scaler did not follow the demand it saw (the metrics count these). */
export type Hold = 'recent-peak' | 'scale-out-interval' | 'scale-in-interval' | 'instances-starting';

export interface Decision {
  desired: number;
  reason: string;
  /** Set when the demand alone would have changed the count and a rule held it. */
  held?: Hold;
  /** The smoothed demand it was made on: requests in flight plus waiting, over about a second. */
  demand: number;
  /** Requests at once the instances counted serve: the open ones' limits, the starting ones' to come. */
  capacity: number;
}

/**
 * The demand's time constant. A tick's instant reads a 300 ms hiccup as a tenfold load; an average
 * much longer than a second would lag a real burst by more than the cold start it is racing.
 */
export const DEMAND_TAU_MS = 1000;

/** Requests per instance the scaler aims for: its limit less the headroom the multiplier asks for. */
export function targetPerInstance(perInstance: number, multiplier: number): number {
  return Math.max(1, perInstance / multiplier);
}

/** Instances that carry `demand` requests at once at `target` each. */
export function instancesFor(demand: number, target: number): number {
  // The tolerance keeps an average that converges on a multiple of the target from asking for one more.
  return demand <= 0 ? 0 : Math.ceil(demand / target - 1e-6);
}

/**
 * What `waiting` requests need: the open instances, plus theirs beyond those already starting.
 * The scaler passes the smoothed count: a queue that the open instances clear within a moment
 * (a hiccup, a stall of the host) needs no cold start, one that stays does.
 */
export function forWaiting(o: Pick<Observation, 'open' | 'starting'>, waiting: number, perInstance: number): number {
  return o.open + Math.max(o.starting, instancesFor(waiting, perInstance));
}

/** 5 s exponentially weighted averages of arrival rate and duration (the ewma algorithm). */
export class Ewma {
  private rate = 0;
  private duration = 0;
  private last: number;
  private arrivals = 0;
  private durSum = 0;
  private durCount = 0;

  constructor(
    now: number,
    private readonly windowMs = 5000,
  ) {
    this.last = now;
  }

  arrived(): void {
    this.arrivals++;
  }

  completed(durationMs: number): void {
    this.durSum += durationMs;
    this.durCount++;
  }

  /** Folds what was observed since the last call into the averages. */
  tick(now: number): { rps: number; durationMs: number } {
    const dt = now - this.last;
    if (dt > 0) {
      const alpha = 1 - Math.exp(-dt / this.windowMs);
      this.rate += alpha * ((this.arrivals * 1000) / dt - this.rate);
      if (this.durCount > 0) this.duration += alpha * (this.durSum / this.durCount - this.duration);
      this.arrivals = 0;
      this.durSum = 0;
      this.durCount = 0;
      this.last = now;
    }
    return { rps: this.rate, durationMs: this.duration };
  }
}

/** Requests at once by Little's law from the rate and duration averages (durations under 2 ms count as 2). */
export function concurrencyOf(rps: number, durationMs: number): number {
  return rps <= 0 ? 0 : (rps * Math.max(2, durationMs)) / 1000;
}

/** The most the count may change in one step. */
export function maxStep(current: number): number {
  return Math.max(5, Math.ceil(0.33 * current));
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export class Scaler {
  private lastOut = -Infinity;
  private lastIn = -Infinity;
  private lastTick: number;
  private readonly since: number;
  /** Smoothed requests in flight and waiting (DEMAND_TAU_MS). */
  private running = 0;
  private waiting = 0;
  private arrivals = 0;
  /** The last tick that saw a request arrive, run or wait. */
  private lastDemandAt: number;
  private readonly ewma: Ewma;
  /** The count each recent tick wanted, newest last: scale-in follows their peak (the hysteresis). */
  private readonly recent: { t: number; v: number }[] = [];
  last: Decision = { desired: 0, reason: 'idle', demand: 0, capacity: 0 };

  constructor(
    private readonly s: ScalerSettings,
    now: number,
  ) {
    this.ewma = new Ewma(now);
    this.lastTick = now;
    this.since = now;
    this.lastDemandAt = now;
  }

  /**
   * How long demand must stay below what one fewer instance serves before one leaves. Longer than
   * one scale-in interval so that a load alternating every interval keeps its count: getting it
   * wrong costs a cold start and a scale-out interval of waiting requests, while holding an
   * instance that long costs seconds of one instance's billing.
   */
  get holdMs(): number {
    return 2 * this.s.scaleInIntervalMs;
  }

  arrived(): void {
    this.arrivals++;
    this.ewma.arrived();
  }

  completed(durationMs: number): void {
    this.ewma.completed(durationMs);
  }

  /**
   * A request waits and no Lambda instance is open or starting: one start now rather than at the
   * next tick, so the very first request does not wait a tick for its invoke. It is a scale-out
   * like any other and starts the scale-out interval: more instances come from the ticks after
   * it, sized to what then still waits (started together, cold starts that share a host's CPU
   * all come later than one alone would).
   */
  first(now: number, anyOpenOrStarting: boolean, waiting: number): Decision | null {
    if (anyOpenOrStarting || waiting === 0 || this.s.maxInstances < 1) return null;
    this.lastDemandAt = now;
    this.lastOut = now;
    this.last = { desired: 1, reason: 'a request waits and no instance is open or starting', demand: this.last.demand, capacity: 0 };
    return this.last;
  }

  /** The instance count to aim for at `now`, given what the fleet observes. */
  decide(now: number, o: Observation): Decision {
    const s = this.s;
    const alpha = 1 - Math.exp(-Math.max(0, now - this.lastTick) / DEMAND_TAU_MS);
    this.lastTick = now;
    this.running += alpha * (o.inFlight - this.running);
    this.waiting += alpha * (o.waiting - this.waiting);
    const { rps, durationMs } = this.ewma.tick(now);
    if (o.inFlight > 0 || o.waiting > 0 || this.arrivals > 0) this.lastDemandAt = now;
    this.arrivals = 0;
    // Averages never reach zero on their own; nothing for a whole idle-release time is none.
    const quiet = now - this.lastDemandAt >= s.idleReleaseMs;
    if (quiet) this.running = this.waiting = 0;
    const running = quiet ? 0 : s.algorithm === 'ewma' ? concurrencyOf(rps, durationMs) : this.running;
    const demand = running + this.waiting;

    const current = o.open + o.starting;
    const per = o.open > 0 ? o.capacity / o.open : s.maxConcurrent;
    const target = targetPerInstance(per, s.instanceCountMultiplier);
    const capacity = o.capacity + o.starting * per;
    // Headroom for what runs, on the average; for what waits (on the average, and only while some
    // does), no more than it needs beyond the starting instances, which will serve it once open.
    const forRun = instancesFor(running, target);
    // Requests that wait while the open instances have room under their limits met every channel
    // busy for a moment: the open instances clear them within a tick, so a cold start is started
    // for them only once the queue averages a request or more over the last second.
    const full = o.open === 0 || o.inFlight >= o.capacity;
    const forWait = o.waiting > 0 && (full || this.waiting >= 1) ? forWaiting(o, this.waiting, per) : 0;
    // Sockets fill instances of their own measure; they come and go slowly, so no average.
    const perSockets = s.maxSocketsPerInstance ?? 0;
    const forSockets = perSockets > 0 ? instancesFor(o.sockets ?? 0, targetPerInstance(perSockets, s.instanceCountMultiplier)) : 0;
    const out = Math.max(forRun, forWait, forSockets, s.minInstances);
    const want = Math.max(out, instancesFor(demand, target));
    this.recent.push({ t: now, v: want });
    while (this.recent[0]!.t < now - this.holdMs) this.recent.shift();
    let peak = 0;
    for (const r of this.recent) peak = Math.max(peak, r.v);
    let idle = 0;
    for (const ms of o.idleMs) if (ms >= s.idleReleaseMs) idle++;

    let why = `demand=${demand.toFixed(1)} (running ${running.toFixed(1)}, waiting ${this.waiting.toFixed(1)}) capacity=${round2(capacity)} (${o.open} open, ${o.starting} starting)`;
    let desired = current;
    let held: Hold | undefined;
    const step = maxStep(current);
    const inTo = Math.max(s.minInstances, peak);
    const idleTo = Math.max(s.minInstances, want, current - idle);
    if (Math.min(out, s.maxInstances) > current) {
      why += ` wants ${out} (${forRun} for running, ${forWait} for waiting${forSockets > 0 ? `, ${forSockets} for ${o.sockets} sockets` : ''})`;
      if (now - this.lastOut < s.scaleOutIntervalMs) {
        held = 'scale-out-interval';
      } else {
        desired = Math.min(out, s.maxInstances, current + step);
        this.lastOut = now;
      }
    } else if (o.waiting > 0) {
      // forWait ≥ current whenever requests wait, so nothing leaves then.
      if (o.starting > 0) {
        held = 'instances-starting';
        why += ` (${o.waiting} waiting: the ${o.starting} starting serve them)`;
      }
    } else if (idleTo < current) {
      desired = Math.max(idleTo, current - step);
      this.lastIn = now;
      why += ` idle-release: ${idle} idle ≥ ${s.idleReleaseMs} ms`;
    } else if (inTo < current && now - this.since >= this.holdMs) {
      why += ` peak ${peak} in the last ${this.holdMs} ms`;
      if (now - this.lastIn < s.scaleInIntervalMs) {
        held = 'scale-in-interval';
      } else {
        desired = Math.max(inTo, current - step);
        this.lastIn = now;
      }
    } else if (Math.max(s.minInstances, want) < current) {
      held = 'recent-peak';
      why += ` (peak ${peak} in the last ${this.holdMs} ms)`;
    }
    if (desired > s.maxInstances) desired = Math.max(s.maxInstances, current - step);
    this.last = { desired, reason: why, demand: round2(demand), capacity: round2(capacity), ...(held !== undefined && desired === current ? { held } : {}) };
    return this.last;
  }
}
