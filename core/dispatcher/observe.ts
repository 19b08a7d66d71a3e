// What the fleet tells the scaler at a tick (scaler.ts Observation), and the order in which it lets
// instances go when the scaler asks for fewer. Kept out of fleet.ts, which carries decisions out.

import type { Observation } from './scaler.ts';
import type { Instance } from './state.ts';

/** Lambda instances only: requests on container workers need no Lambda. */
export function observe(instances: Iterable<Instance>, waiting: number, now: number): Observation {
  let inFlight = 0;
  let open = 0;
  let starting = 0;
  let capacity = 0;
  let sockets = 0;
  const idleMs: number[] = [];
  for (const inst of instances) {
    if (inst.kind !== 'lambda') continue;
    inFlight += inst.outstanding;
    sockets += inst.sockets;
    if (!inst.active) continue;
    if (inst.state === 'starting') {
      starting++;
      continue;
    }
    open++;
    // What it has learned to take at once (concurrency.ts), not its maximum.
    capacity += inst.concurrency.limit;
    // Its cold start is not idleness: an instance that just opened has had no chance to serve.
    if (inst.unused) idleMs.push(now - Math.max(inst.lastBusyAt, inst.openedAt));
  }
  return { inFlight, waiting, open, starting, capacity, sockets, idleMs };
}

/**
 * Open instances, the first to let go first: idle ones before busy ones, the longest idle first.
 * A busy one drains, serving what it has (the scaler only asks once demand stayed low for a while).
 */
export function scaleInOrder(instances: Iterable<Instance>): Instance[] {
  const open: Instance[] = [];
  for (const inst of instances) if (inst.active && inst.state === 'open') open.push(inst);
  return open.sort((a, b) => a.outstanding + a.sockets - (b.outstanding + b.sockets) || a.lastBusyAt - b.lastBusyAt);
}

/** Some Lambda instance is open or starting (and staying): capacity is there or coming. */
export function anyActive(instances: Iterable<Instance>): boolean {
  for (const inst of instances) if (inst.active) return true;
  return false;
}

/** Lambda instances open or starting and staying: the count the scaler decides. */
export function activeCount(instances: Iterable<Instance>): number {
  let n = 0;
  for (const inst of instances) if (inst.active) n++;
  return n;
}
