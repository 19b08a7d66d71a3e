// The scaler's decisions as the operator sees them: counted by kind for the metrics, and a
// lifecycle event when one changes the instance count. The scaler is asked on every tick (and for
// the first start when nothing is open or starting) and mostly repeats itself; a decision is
// counted once, when it differs from the last one.

import type { EventSink } from './events.ts';
import type { Decision, Hold } from './scaler.ts';

export type DecisionKind = 'scale-out' | 'scale-in' | Hold;

export class Decisions {
  readonly counts: Record<DecisionKind, number> = {
    'scale-out': 0,
    'scale-in': 0,
    'recent-peak': 0,
    'scale-out-interval': 0,
    'scale-in-interval': 0,
    'instances-starting': 0,
  };
  private last: Decision | null = null;

  constructor(private readonly emit: EventSink) {}

  /** `current`: the instance count the decision was made against. */
  record(d: Decision, current: number): void {
    const last = this.last;
    this.last = d;
    if (last !== null && last.desired === d.desired && last.held === d.held) return;
    if (d.held !== undefined) this.counts[d.held]++;
    if (d.desired === current) return;
    this.counts[d.desired > current ? 'scale-out' : 'scale-in']++;
    this.emit({ event: 'scaled', from: current, to: d.desired, reason: d.reason });
  }
}
