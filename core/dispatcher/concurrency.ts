// How many requests one instance is given at once, learned from its own load reports (LOAD
// frames, once a second): additive increase while the environment has headroom and used at least
// half of what it was given, multiplicative decrease when its event loop saturates. A CPU-light app so grows
// into few wide instances and a CPU-heavy one settles on narrow ones, with no setting changed.
// Pure: the fleet feeds it reports and the instance's peak of requests in flight; tests drive it
// with made-up reports. docs/ARCHITECTURE.md, "Concurrency per instance".
//
// Why event-loop utilisation and not CPU: an environment's CPU share follows its memory (a 512 MB
// function has about a third of a vCPU), which the extension cannot see; a Node app is saturated
// when its loop is busy all the time, whatever share that is. CPU is reported and shown, not
// steered on.

import type { LoadReport } from '../frames.ts';

export interface LimitSettings {
  /** LAMBDA_DISPATCH_MinConcurrentCount. */
  min: number;
  /** LAMBDA_DISPATCH_MaxConcurrentCount. */
  max: number;
  /** Where a new instance starts. */
  initial: number;
}

/** Above this utilisation the environment is saturated: cut. */
export const SATURATED_ELU = 0.85;
/** Below this, projected to every slot in use, it has room for more: raise. */
export const HEADROOM_ELU = 0.6;
/** After a cut, no raise for this long: the cut's effect must show in a report first. */
export const RAISE_COOLDOWN_MS = 3000;

/**
 * Channels beyond the limit an instance holds: one being closed or reopened never costs a slot the
 * limit allows, and a raise has a free channel at once while the new ones open.
 */
export const SPARE_CHANNELS = 2;

/** The channels an instance with this limit is asked to hold (never more than ChannelCount). */
export function channelsFor(limit: number, channelCount: number): number {
  return Math.max(1, Math.min(channelCount, limit + SPARE_CHANNELS));
}

export interface LimitChange {
  limit: number;
  /** Why it is what it is, for the status page and the metrics. */
  reason: string;
}

export class ConcurrencyLimit {
  limit: number;
  reason = 'initial';
  /** The last report's figures (null before the first). */
  elu: number | null = null;
  cpu: number | null = null;
  private cutAt = -Infinity;

  constructor(private readonly s: LimitSettings) {
    this.limit = clamp(s.initial, s.min, s.max);
  }

  /** Fixed (min = max): the old behaviour, nothing to learn. */
  get fixed(): boolean {
    return this.s.min === this.s.max;
  }

  /**
   * One report. `peakBusy`: the most requests the instance had at once since the previous report
   * (a raise is only earned by an instance that used all it was given). Requests already admitted
   * are never cut off: a lower limit only stops new ones until enough have finished.
   */
  report(load: LoadReport, peakBusy: number, now: number): LimitChange {
    this.elu = load.elu;
    this.cpu = load.cpu;
    if (this.fixed) return this.change('fixed');
    const elu = load.elu.toFixed(2);
    if (load.elu >= SATURATED_ELU) {
      const next = Math.max(this.s.min, Math.floor(this.limit * 0.75));
      if (next < this.limit) {
        this.limit = next;
        this.cutAt = now;
        return this.change(`saturated (elu ${elu})`);
      }
      return this.change(`saturated at the minimum (elu ${elu})`);
    }
    if (this.earnedRaise(load.elu, peakBusy) && now - this.cutAt >= RAISE_COOLDOWN_MS) {
      const was = this.limit;
      const next = Math.min(this.s.max, was + Math.max(1, Math.ceil(was / 8)));
      if (next > was) {
        this.limit = next;
        return this.change(`headroom (elu ${elu}, used ${peakBusy} of ${was})`);
      }
      return this.change(`headroom at the maximum (elu ${elu})`);
    }
    return this.change(peakBusy < this.limit ? `steady (elu ${elu}, used ${peakBusy} of ${this.limit})` : `steady (elu ${elu})`);
  }

  /**
   * A raise is earned by an instance that used at least half its limit and would still have
   * headroom with all of it in use: its utilisation scaled from what it had at once to its whole
   * limit stays under HEADROOM_ELU. Not "used every slot": the scaler keeps instances below their
   * limit on purpose (InstanceCountMultiplier), so that rule would never raise a limit the scaler
   * lets it use. Scaling the utilisation linearly overstates it for an app that waits on I/O (its
   * loop is not busier with more requests waiting), which errs toward not raising.
   */
  private earnedRaise(elu: number, peakBusy: number): boolean {
    if (peakBusy * 2 < this.limit || peakBusy === 0) return false;
    return (elu * this.limit) / Math.min(peakBusy, this.limit) < HEADROOM_ELU;
  }

  private change(reason: string): LimitChange {
    this.reason = reason;
    return { limit: this.limit, reason };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}
