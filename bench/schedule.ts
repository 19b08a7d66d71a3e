// The arithmetic of load plans: when an open-loop request is meant to leave (so that its latency
// is measured from then, not from when a busy client got round to it: coordinated omission), and
// how many closed-loop clients are active at a time.

export interface RatePhase {
  name: string;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Whether this phase's requests count in the summary (warm-up phases do not). */
  record: boolean;
}

export interface ConcurrencyPhase {
  name: string;
  concurrency: number;
  durationMs: number;
  record: boolean;
}

export interface ScheduledPhase {
  name: string;
  startMs: number;
  endMs: number;
  /** Index of the first request of the phase (open loop). */
  first: number;
  /** Number of requests in the phase (open loop). */
  count: number;
}

/**
 * Lays the phases end to end. Within a phase of rate r starting at s, request k (0-based) is due at
 * s + k·1000/r; a phase of d ms holds floor(d·r/1000) requests.
 */
export function openSchedule(phases: readonly RatePhase[]): ScheduledPhase[] {
  const out: ScheduledPhase[] = [];
  let startMs = 0;
  let first = 0;
  for (const p of phases) {
    if (!(p.rate > 0) || !(p.durationMs > 0)) throw new Error(`phase ${p.name}: rate and duration must be positive`);
    const count = Math.floor((p.durationMs * p.rate) / 1000);
    out.push({ name: p.name, startMs, endMs: startMs + p.durationMs, first, count });
    startMs += p.durationMs;
    first += count;
  }
  return out;
}

/** Intended send time (ms from the plan's start) of request `i` of a schedule. */
export function intendedTime(schedule: readonly ScheduledPhase[], phases: readonly RatePhase[], i: number): number {
  for (let p = 0; p < schedule.length; p++) {
    const s = schedule[p]!;
    if (i < s.first + s.count) return s.startMs + ((i - s.first) * 1000) / phases[p]!.rate;
  }
  throw new RangeError(`request ${i} is past the end of the schedule`);
}

/** How many requests are due by `elapsedMs` (all of those whose intended time is ≤ elapsedMs). */
export function dueBy(schedule: readonly ScheduledPhase[], phases: readonly RatePhase[], elapsedMs: number): number {
  let due = 0;
  for (let p = 0; p < schedule.length; p++) {
    const s = schedule[p]!;
    if (elapsedMs < s.startMs) break;
    due = s.first + Math.min(s.count, Math.floor(((elapsedMs - s.startMs) * phases[p]!.rate) / 1000) + 1);
  }
  return due;
}

export function totalRequests(schedule: readonly ScheduledPhase[]): number {
  const last = schedule[schedule.length - 1];
  return last ? last.first + last.count : 0;
}

/** Closed loop: phase boundaries in ms from the start. */
export function closedSchedule(phases: readonly ConcurrencyPhase[]): ScheduledPhase[] {
  let startMs = 0;
  return phases.map((p) => {
    const s = { name: p.name, startMs, endMs: startMs + p.durationMs, first: 0, count: 0 };
    startMs += p.durationMs;
    return s;
  });
}

/** The phase in force at `elapsedMs` (index), or -1 once the plan is over. */
export function phaseAt(schedule: readonly ScheduledPhase[], elapsedMs: number): number {
  for (let p = 0; p < schedule.length; p++) if (elapsedMs < schedule[p]!.endMs) return p;
  return -1;
}
