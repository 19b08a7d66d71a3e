// How many instances the router wants, as pure functions of counts and a clock (docs/ARCHITECTURE.md, "Scaling").
// The dispatcher feeds it observations and asks for a decision; tests drive it with a fake clock.

export interface ScalerSettings {
  algorithm: 'simple' | 'ewma';
  maxConcurrent: number;
  instanceCountMultiplier: number;
  minInstances: number;
  maxInstances: number;
  scaleOutIntervalMs: number;
  scaleInIntervalMs: number;
}

export interface Load {
  /** Requests being served by instances. */
  running: number;
  /** Requests waiting for a channel. */
  pending: number;
}

/** Why the scaler did not follow the demand it saw (the metrics count these). */
export type Hold = 'recent-peak' | 'scale-out-interval' | 'requests-waiting' | 'scale-in-interval';

export interface Decision {
  desired: number;
  reason: string;
  /** Set when the demand alone would have changed the count and a rule held it. */
  held?: Hold;
}

/** Requests per instance the scaler aims for, leaving headroom for bursts. */
export function targetPerInstance(s: Pick<ScalerSettings, 'maxConcurrent' | 'instanceCountMultiplier'>): number {
  return Math.max(1, Math.ceil(s.maxConcurrent / s.instanceCountMultiplier));
}

/** The simple algorithm: what the load needs right now, with 20% headroom. */
export function simpleDesired(load: Load, s: Pick<ScalerSettings, 'maxConcurrent' | 'instanceCountMultiplier'>): number {
  if (load.running === 0 && load.pending === 0) return 0;
  const r = load.running / targetPerInstance(s) + load.pending / s.maxConcurrent / 2;
  return Math.max(Math.ceil(r), Math.ceil(1.2 * r));
}

/** 5 s exponentially weighted averages of arrival rate and duration. */
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

export function ewmaDesired(rps: number, durationMs: number, s: Pick<ScalerSettings, 'maxConcurrent' | 'instanceCountMultiplier'>): number {
  if (rps <= 0) return 0;
  const rpsPerInstance = (1000 / Math.max(2, durationMs)) * targetPerInstance(s);
  return Math.ceil((rps / rpsPerInstance) * 1.2);
}

/** The most the count may change in one step. */
export function maxStep(current: number): number {
  return Math.max(5, Math.ceil(0.33 * current));
}

export class Scaler {
  private lastOut = -Infinity;
  private lastIn = -Infinity;
  private readonly ewma: Ewma;
  /** Recent raw demand, newest last: scale-in follows the peak of the last interval, not an instant. */
  private readonly recent: { t: number; v: number }[] = [];
  last: Decision = { desired: 0, reason: 'idle' };

  constructor(
    private readonly s: ScalerSettings,
    now: number,
  ) {
    this.ewma = new Ewma(now);
  }

  arrived(): void {
    this.ewma.arrived();
  }

  completed(durationMs: number): void {
    this.ewma.completed(durationMs);
  }

  /**
   * The instance count to aim for, given `current` (starting + open instances). Scale-out and
   * scale-in are rate-limited separately; scale-in never happens while requests wait.
   */
  decide(now: number, current: number, load: Load): Decision {
    const { rps, durationMs } = this.ewma.tick(now);
    let raw: number;
    let why: string;
    let held: Hold | undefined;
    if (this.s.algorithm === 'ewma') {
      // The rate alone lags a burst: never want less than what is running and waiting needs now.
      raw = Math.max(ewmaDesired(rps, durationMs, this.s), load.pending > 0 ? simpleDesired(load, this.s) : 0);
      why = `ewma rps=${rps.toFixed(1)} duration=${durationMs.toFixed(0)}ms pending=${load.pending}`;
    } else {
      raw = simpleDesired(load, this.s);
      why = `simple running=${load.running} pending=${load.pending}`;
    }
    // A fast app is often idle at the instant of a tick even under steady load: shrinking on that
    // instant would drain the instance the next request needs and make it wait a cold start.
    this.recent.push({ t: now, v: raw });
    while (this.recent.length > 0 && this.recent[0]!.t < now - this.s.scaleInIntervalMs) this.recent.shift();
    let recentPeak = 0;
    for (const r of this.recent) recentPeak = Math.max(recentPeak, r.v);
    if (raw < current && recentPeak > raw) {
      raw = Math.min(current, recentPeak);
      held = 'recent-peak';
      why += ` (peak ${recentPeak} in the last ${this.s.scaleInIntervalMs} ms)`;
    }
    let desired = Math.min(this.s.maxInstances, Math.max(this.s.minInstances, raw));
    const step = maxStep(current);
    if (desired > current) {
      if (now - this.lastOut < this.s.scaleOutIntervalMs) {
        desired = current;
        held = 'scale-out-interval';
        why += ' (scale-out interval)';
      } else {
        desired = Math.min(desired, current + step);
        this.lastOut = now;
      }
    } else if (desired < current) {
      if (load.pending > 0) {
        desired = current;
        held = 'requests-waiting';
        why += ' (no scale-in while requests wait)';
      } else if (now - this.lastIn < this.s.scaleInIntervalMs) {
        desired = current;
        held = 'scale-in-interval';
        why += ' (scale-in interval)';
      } else {
        desired = Math.max(desired, current - step);
        this.lastIn = now;
      }
    }
    this.last = held !== undefined && desired === current ? { desired, reason: why, held } : { desired, reason: why };
    return this.last;
  }
}
