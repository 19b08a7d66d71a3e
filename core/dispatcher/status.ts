// The dispatcher's half of the router's status page, computed from the fleet's and the relay's
// state at the moment it is asked for, never kept as running totals that could drift from it.

import type { RingWriter } from '../ring-writer.ts';
import type { DecisionKind } from './decisions.ts';
import type { Fleet } from './fleet.ts';
import type { InvokeCounts } from './launcher.ts';
import type { FramingCounts, RequestCounts, Relay } from './relay.ts';
import type { Decision } from './scaler.ts';
import type { Instance, InstanceState } from './state.ts';

export interface StatusSnapshot {
  instances: Record<Exclude<InstanceState, 'closed'>, number>;
  workers: { connected: number; busy: number };
  desired: number;
  lastDecision: Decision;
  pending: number;
  inFlight: number;
  /** Upgraded connections (WebSockets) being relayed, each holding a channel. */
  sockets: number;
  /**
   * busy: requests on channels (in flight); multiplexed: open channels that carry several requests
   * at once (the `mux` feature); abortTimeouts: channels closed because the peer never confirmed a
   * client's abort.
   */
  channels: { open: number; busy: number; multiplexed: number; abortTimeouts: number };
  invokes: InvokeCounts & { consecutiveFailures: number };
  requests: RequestCounts;
  /** Responses stopped because the function broke HTTP framing, by kind. */
  framingViolations: FramingCounts;
  /** Instances whose environment reported a cold start. */
  coldStarts: number;
  /** Scaling decisions that changed the count or held it against the demand (scaler.ts Hold). */
  decisions: Record<DecisionKind, number>;
  /**
   * Backpressure: channels paused for a slow client (responseWindow), and the response ring's fill
   * and the times it was full (every response waited).
   */
  stalls: { responseWindow: number; responseRingFull: number };
  responseRing: { usedBytes: number; sizeBytes: number };
  /**
   * Each open instance's concurrency: its learned limit, what it serves now, its last load report
   * (null before the first) and why the limit is what it is (core/dispatcher/concurrency.ts).
   */
  concurrency: InstanceConcurrency[];
  /** Several functions behind the router (functions.ts): each one's own; the fields above are their sum. */
  functions?: { name: string; status: StatusSnapshot }[];
}

export interface InstanceConcurrency {
  instance: string;
  kind: 'lambda' | 'worker';
  limit: number;
  busy: number;
  /** Upgraded connections it holds (each on a channel of its own). */
  sockets: number;
  /** Channels it holds now, and how many it was told to hold (they follow the limit). */
  channels: number;
  /** The most requests one of its channels carries now: above 1 only when multiplexed. */
  busiestChannel: number;
  channelTarget: number;
  elu: number | null;
  cpu: number | null;
  reason: string;
}

/** The most requests one of its channels carries now (above 1 only on a multiplexed channel). */
function busiest(inst: Instance): number {
  let most = 0;
  for (const ch of inst.channels) if (ch.count > most) most = ch.count;
  return most;
}

export function statusOf(fleet: Fleet, relay: Relay, ring: RingWriter): StatusSnapshot {
  const workers = { connected: 0, busy: 0 };
  let open = 0;
  let busy = 0;
  let sockets = 0;
  let multiplexed = 0;
  for (const inst of fleet.all()) {
    for (const ch of inst.channels) if (ch.multiplexed) multiplexed++;
    if (inst.kind === 'worker') {
      workers.connected++;
      workers.busy += inst.outstanding;
    }
    open += inst.channels.size;
    busy += inst.outstanding;
    sockets += inst.sockets;
  }
  return {
    instances: countByState(fleet.all()),
    workers,
    desired: fleet.lastDecision.desired,
    lastDecision: fleet.lastDecision,
    pending: relay.pendingCount,
    // A request is in flight exactly while a channel carries it.
    inFlight: busy,
    sockets,
    channels: { open, busy, multiplexed, abortTimeouts: fleet.abortTimeouts },
    invokes: fleet.invokes,
    requests: { ...relay.counts },
    framingViolations: { ...relay.framing },
    coldStarts: fleet.coldStarts,
    decisions: { ...fleet.decisions.counts },
    stalls: { responseWindow: relay.windowStalls, responseRingFull: ring.fullEvents },
    responseRing: ring.fill,
    concurrency: concurrencyOf(fleet.all()),
  };
}

/** Lambda instances by state (container workers are counted apart). */
function countByState(all: Iterable<Instance>): Record<Exclude<InstanceState, 'closed'>, number> {
  const instances = { starting: 0, open: 0, draining: 0, closing: 0 };
  for (const inst of all) if (inst.kind === 'lambda' && inst.state !== 'closed') instances[inst.state]++;
  return instances;
}

function concurrencyOf(all: Iterable<Instance>): InstanceConcurrency[] {
  const out: InstanceConcurrency[] = [];
  for (const inst of all) {
    if (inst.state !== 'open') continue;
    const c = inst.concurrency;
    out.push({
      instance: inst.shortId,
      kind: inst.kind,
      limit: c.limit,
      busy: inst.busy,
      sockets: inst.sockets,
      channels: inst.channels.size,
      busiestChannel: busiest(inst),
      channelTarget: inst.followsLimit ? inst.channelTarget : inst.channels.size,
      elu: c.elu,
      cpu: c.cpu,
      reason: c.reason,
    });
  }
  return out;
}
