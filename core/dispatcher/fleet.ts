// The fleet: the instances serving this router and their channels. It starts instances (through
// the launcher), opens their channels, drains, replaces and closes them, pings their channels, and
// grows or shrinks the Lambda part to what the scaler asks, and moves each instance's concurrency
// limit on its load reports. Container workers join and leave on their own and are counted apart.
// It never touches a request: which request goes where is the relay's business (relay.ts).
// Long because every transition of an instance (start, open, report, drain, replace, leave,
// remove), with its event and its timeout, reads and changes the same instance map and launcher:
// split, each part would reach into the other's private state. The decisions themselves are pure
// and apart (scaler.ts, concurrency.ts and its channelsFor, observe.ts, liveness.ts, replays.ts);
// what stays is carrying them out on live instances and sockets.

import type { WebSocket } from 'ws';
import type { RouterConfig } from '../config.ts';
import { INITIAL_CONCURRENT } from '../config.ts';
import { FrameType, encodeFrame, frame, type LoadReport } from '../frames.ts';
import type { InvokeOutcome } from './invoker.ts';
import { Launcher, type Invoke, type InvokeCounts } from './launcher.ts';
import type { EventSink } from './events.ts';
import { Decisions } from './decisions.ts';
import { channelsFor } from './concurrency.ts';
import { pingChannels } from './liveness.ts';
import { activeCount, anyActive, observe, scaleInOrder } from './observe.ts';
import { Scaler, type Decision } from './scaler.ts';
import { Channel, Instance, NO_WORKER_FEATURES, type ChannelHello, type WorkerHello } from './state.ts';

export type FleetSettings = Pick<
  RouterConfig,
  | 'channelCount'
  | 'maxSocketsPerInstance'
  | 'minConcurrentCount'
  | 'maxConcurrentCount'
  | 'instanceCountMultiplier'
  | 'scalingAlgorithm'
  | 'minInstances'
  | 'maxInstances'
  | 'scaleOutIntervalMs'
  | 'scaleInIntervalMs'
  | 'idleReleaseMs'
  | 'replacementWaitMs'
  | 'abortAckMs'
> & {
  /** Where the extension calls back, e.g. `ws://10.0.0.5:5003`. */
  routerUrl: string;
  /** The control port certificate's pin when routerUrl is wss:// (passed on to the launcher). */
  certSha256?: string | undefined;
  /** A started instance that has opened no channel by then is given up. */
  startTimeoutMs: number;
  /** A draining instance's busy channels are told GOAWAY by then regardless. */
  drainTimeoutMs: number;
};

/** What the fleet needs of the relay. */
export interface Demand {
  /** Requests waiting for a channel. */
  readonly pendingCount: number;
  /** Of those, the ones in the queue (the rest wait to learn whether they may go again). */
  readonly queuedCount: number;
  /** New channels are free: hand them waiting requests. */
  pump(): void;
  /** An invoke ended: requests lost with its instance can be decided now. */
  requeueRetries(): void;
}

export class Fleet {
  private readonly instances = new Map<string, Instance>();
  private readonly scaler: Scaler;
  private readonly launcher: Launcher;
  private stopping = false;
  /** Channels closed because their peer never confirmed a client's abort. */
  abortTimeouts = 0;
  /** Instances whose environment said it was new (a cold start). */
  coldStarts = 0;
  /** Scaling decisions that changed the count, or held it against the demand, by kind. */
  readonly decisions: Decisions;

  constructor(
    private readonly o: FleetSettings,
    invoke: Invoke,
    private readonly demand: Demand,
    private readonly now: () => number,
    private readonly log: (msg: string) => void,
    private readonly emit: EventSink = () => {},
  ) {
    const t = now();
    this.decisions = new Decisions(emit);
    this.scaler = new Scaler(
      {
        algorithm: o.scalingAlgorithm,
        // Capacity a new instance brings until it has learned its own.
        maxConcurrent: initialLimit(o),
        instanceCountMultiplier: o.instanceCountMultiplier,
        minInstances: o.minInstances,
        maxInstances: o.maxInstances,
        scaleOutIntervalMs: o.scaleOutIntervalMs,
        scaleInIntervalMs: o.scaleInIntervalMs,
        idleReleaseMs: o.idleReleaseMs,
        maxSocketsPerInstance: o.maxSocketsPerInstance,
      },
      t,
    );
    this.launcher = new Launcher(o, invoke, log, t);
  }

  all(): IterableIterator<Instance> {
    return this.instances.values();
  }

  get lastDecision(): Decision {
    return this.scaler.last;
  }

  /** Invokes started and failed, and the failures in a row that set the next start's backoff. */
  get invokes(): InvokeCounts & { consecutiveFailures: number } {
    const c = this.launcher.counts;
    return { ...c, failuresByKind: { ...c.failuresByKind }, consecutiveFailures: this.launcher.consecutiveFailures };
  }

  get empty(): boolean {
    return this.instances.size === 0;
  }

  arrived(): void {
    this.scaler.arrived();
  }

  completed(ms: number): void {
    this.scaler.completed(ms);
  }

  // ── channels ───────────────────────────────────────────────────────────────────────────────

  tokenFor(instanceId: string): Buffer | null | 'closing' {
    const inst = this.instances.get(instanceId);
    if (inst === undefined || inst.state === 'closed' || inst.kind === 'worker') return null;
    if (inst.state === 'closing' || inst.state === 'draining') return 'closing';
    return inst.token;
  }

  /**
   * A channel of a known instance opened; null when the instance no longer takes channels.
   * `coldStart`: the environment said this is its first invocation.
   */
  open(instanceId: string, index: number, ws: WebSocket, hello: ChannelHello = { coldStart: false, followsLimit: false, acceptsUpgrade: false, multiplexed: false }): Channel | null {
    const inst = this.instances.get(instanceId);
    if (inst === undefined || (inst.state !== 'starting' && inst.state !== 'open')) {
      ws.close(1008, 'instance not accepting channels');
      return null;
    }
    const { coldStart } = hello;
    const ch = new Channel(ws, inst, index, hello.multiplexed);
    inst.channels.add(ch);
    if (hello.acceptsUpgrade) inst.acceptsUpgrade = true;
    if (hello.followsLimit && inst.kind === 'lambda') {
      inst.followsLimit = true;
      // Opened before it heard of a lower count (or reopened after a loss): it closes when told again.
      if (index >= inst.channelTarget) {
        ch.goaway = true;
        ws.send(encodeFrame({ type: 'channels', count: inst.channelTarget }));
        return ch;
      }
    }
    if (inst.state === 'starting') {
      inst.state = 'open';
      inst.openedAt = this.now();
      inst.coldStart = coldStart;
      if (coldStart) this.coldStarts++;
      this.launcher.opened();
      this.emit({ event: 'instance-opened', instance: inst.shortId, kind: inst.kind, startMs: inst.openedAt - inst.startedAt, coldStart });
      if (inst.replaces !== null) {
        this.drain(inst.replaces, 'replaced before its deadline', false);
        inst.replaces = null;
      }
    }
    inst.idle.push(ch);
    return ch;
  }

  /** A container worker's channel: its instance exists for as long as it has channels. */
  openWorker(workerId: string, index: number, maxConcurrent: number, ws: WebSocket, hello: WorkerHello = NO_WORKER_FEATURES): Channel | null {
    if (this.stopping) {
      ws.close(1013, 'router is shutting down');
      return null;
    }
    const id = `worker:${workerId}`;
    let inst = this.instances.get(id);
    if (inst === undefined || inst.state === 'closed') {
      // It learns as a Lambda instance does, from what it announced down to MinConcurrentCount.
      inst = new Instance(id, Buffer.alloc(0), maxConcurrent, this.now(), 'worker', {
        min: Math.min(this.o.minConcurrentCount, maxConcurrent),
        max: maxConcurrent,
        initial: maxConcurrent,
      });
      inst.state = 'open';
      inst.openedAt = this.now();
      inst.invokeEnded = true; // nothing to wait for once its channels are gone
      this.instances.set(id, inst);
      this.log(`container worker ${workerId} connected (${maxConcurrent} at once)`);
    }
    if (inst.state !== 'open') {
      ws.close(1013, 'not accepting channels');
      return null;
    }
    if (hello.acceptsUpgrade) inst.acceptsUpgrade = true;
    return this.open(id, index, ws, { coldStart: false, followsLimit: false, ...hello });
  }

  /** An instance's load report: its limit moves (concurrency.ts); a raise may let waiting requests in. */
  loadReported(inst: Instance, load: LoadReport): void {
    const from = inst.concurrency.limit;
    const { limit, reason } = inst.concurrency.report(load, inst.peakBusy, this.now());
    inst.peakBusy = inst.busy;
    if (limit === from) return;
    this.emit({ event: 'limit', instance: inst.shortId, from, to: limit, reason });
    this.holdChannels(inst);
    if (limit > from) this.demand.pump();
  }

  /**
   * Channels follow the limit up: the extension starts with the initial limit + spares and is told
   * to hold more as the limit (or its sockets) grows. An extension that never said it follows holds
   * all ChannelCount channels from the start.
   */
  private holdChannels(inst: Instance): void {
    if (!inst.followsLimit) return;
    const target = channelsFor(inst.concurrency.limit + inst.sockets, this.o.channelCount);
    // More as the limit rises, never fewer: a limit that moves a step each second would close and
    // reopen channels, a TLS handshake each, as often (peak closed loop: 1,729 req/s with
    // channels halved on the way down against 2,989 without). An idle channel costs a socket.
    if (target <= inst.channelTarget) return;
    inst.channelTarget = target;
    let told = false;
    for (const ch of inst.channels) {
      if (ch.index >= target) ch.goaway = true;
      else if (!told && !ch.goaway && ch.ws.readyState === ch.ws.OPEN) {
        ch.ws.send(encodeFrame({ type: 'channels', count: target }));
        told = true;
      }
    }
  }

  protocolError(ch: Channel, why: string): void {
    this.log(`channel ${ch.instance.id}/${ch.index}: protocol error: ${why}`);
    // Closing takes a handshake: until it ends, no request may be given to this channel.
    ch.goaway = true;
    ch.ws.close(1002, why.slice(0, 120));
  }

  /** The channel is gone (its request, if any, was already handed back to the relay). */
  closed(ch: Channel): void {
    const inst = ch.instance;
    inst.channels.delete(ch);
    if (inst.channels.size === 0 && inst.state !== 'starting') {
      if (inst.state === 'open' || inst.state === 'draining') inst.state = 'closing';
      if (inst.invokeEnded) this.remove(inst);
    }
  }

  /** A tunnel opened or closed on this instance: its sockets hold channels beside its requests. */
  socketsChanged(inst: Instance): void {
    this.holdChannels(inst);
  }

  /** No new request goes to this channel; the extension closes it when it is done. */
  retire(ch: Channel): void {
    if (ch.goaway) return;
    ch.goaway = true;
    if (ch.ws.readyState === ch.ws.OPEN) ch.ws.send(frame(FrameType.GOAWAY, 0, 0));
  }

  /**
   * Container workers first (they cost nothing extra), then the Lambda with the fewest requests.
   * An upgrade goes only where another socket fits (MaxSocketsPerInstance).
   */
  pick(avoid: ReadonlySet<Instance>, upgrade = false): Instance | undefined {
    let best: Instance | undefined;
    for (const inst of this.instances.values()) {
      if (!inst.available(upgrade) || avoid.has(inst)) continue;
      // A socket lives long: not to an instance leaving for its deadline, which would close it soon.
      if (upgrade && (inst.sockets >= this.o.maxSocketsPerInstance || inst.leavingSince !== 0)) continue;
      if (
        best === undefined ||
        (inst.kind === 'worker' && best.kind !== 'worker') ||
        (inst.kind === best.kind && inst.outstanding < best.outstanding)
      ) {
        best = inst;
      }
    }
    return best;
  }

  // ── instance lifecycle ─────────────────────────────────────────────────────────────────────

  /**
   * The extension wants to leave (its deadline nears). If it is still needed, a replacement starts
   * now and the old instance keeps serving until the replacement opens (bounded), so no request
   * waits on a cold start because an instance reached its timeout.
   */
  closeRequested(inst: Instance, reason: string): void {
    if (inst.state !== 'open' || inst.leavingSince !== 0) return;
    const now = this.now();
    inst.leavingSince = now;
    inst.closeReason = `close-request: ${reason}`;
    const needed = inst.outstanding > 0 || this.demand.pendingCount > 0 || activeCount(this.instances.values()) < this.scaler.last.desired;
    if (needed && !this.stopping && this.launcher.allows(now)) {
      this.start(inst);
    } else {
      this.drain(inst, inst.closeReason);
    }
  }

  private start(replaces: Instance | null = null): Instance {
    const openChannels = channelsFor(initialLimit(this.o), this.o.channelCount);
    const { id, token, ended } = this.launcher.launch(openChannels);
    const inst = new Instance(id, Buffer.from(token), this.o.maxConcurrentCount, this.now(), 'lambda', {
      min: this.o.minConcurrentCount,
      max: this.o.maxConcurrentCount,
      initial: initialLimit(this.o),
    });
    inst.channelTarget = openChannels;
    inst.replaces = replaces;
    this.instances.set(id, inst);
    this.emit({ event: 'instance-started', instance: inst.shortId, replaces: replaces?.shortId ?? null });
    void ended.then((outcome) => this.invokeEnded(inst, outcome));
    return inst;
  }

  prewarm(): void {
    this.launcher.prewarm();
  }

  private invokeEnded(inst: Instance, outcome: InvokeOutcome): void {
    inst.invokeEnded = true;
    inst.outcome = outcome;
    const failed = this.launcher.ended(outcome, inst.openedAt !== 0, this.now());
    if (failed !== null) this.emit({ event: 'invoke-failed', instance: inst.shortId, ...failed });
    inst.closeReason ||= outcome.kind === 'returned' ? outcome.exitReason : outcome.kind;
    if (inst.replaces !== null) {
      this.drain(inst.replaces, 'replacement failed to start');
      inst.replaces = null;
    }
    // The handler is gone: whatever channels remain belong to a dead (or frozen) environment.
    for (const ch of inst.channels) ch.ws.terminate();
    if (inst.channels.size === 0) this.remove(inst);
    else inst.state = 'closing';
    this.demand.requeueRetries();
  }

  private remove(inst: Instance): void {
    if (inst.state === 'closed') return;
    inst.state = 'closed';
    this.instances.delete(inst.id);
    this.emit({ event: 'instance-closed', instance: inst.shortId, kind: inst.kind, reason: inst.closeReason || 'closed', lifeMs: this.now() - inst.startedAt });
  }

  /**
   * Stops sending new requests to an instance; GOAWAY to each channel once it is idle, and at once
   * to those a tunnel (a WebSocket) holds, which the extension then closes with 1001 — unless the
   * instance is leaving for its deadline: its extension closes them itself, spread out.
   */
  private drain(inst: Instance, reason: string, closeSockets = true): void {
    if (inst.state !== 'open' && inst.state !== 'starting') return;
    inst.closeReason = reason;
    this.emit({ event: 'instance-draining', instance: inst.shortId, reason });
    if (inst.state === 'starting') {
      inst.state = 'closing';
      return;
    }
    inst.state = 'draining';
    inst.lastBusyAt = this.now();
    for (const ch of inst.channels) if (ch.count === 0 || (closeSockets && ch.tunnel)) this.retire(ch);
    inst.idle.length = 0;
  }

  // ── periodic work ──────────────────────────────────────────────────────────────────────────

  /** Start timeouts, drain timeouts, replacement waits. */
  tick(now: number): void {
    for (const inst of this.instances.values()) {
      if (inst.state === 'starting' && now - inst.startedAt > this.o.startTimeoutMs) {
        this.log(`instance ${inst.id} opened no channel in ${this.o.startTimeoutMs} ms`);
        inst.state = 'closing';
        inst.closeReason = 'start-timeout';
        this.launcher.timedOut(now);
      }
      for (const ch of inst.channels) {
        // A peer that never confirms an abort (frozen, or buggy) would hold the channel forever.
        for (const ex of ch.exchanges()) {
          if (ex.abortedAt !== 0 && now - ex.abortedAt > this.o.abortAckMs && !ch.cut) {
            this.log(`channel ${inst.id}/${ch.index}: abort not confirmed in ${this.o.abortAckMs} ms; closing it`);
            this.abortTimeouts++;
            ch.goaway = true;
            ch.cut = true;
            ch.ws.terminate();
            break;
          }
        }
      }
      if (inst.state === 'draining' && now - inst.lastBusyAt > this.o.drainTimeoutMs) {
        for (const ch of inst.channels) this.retire(ch);
      }
      if (inst.state === 'open' && inst.leavingSince !== 0 && now - inst.leavingSince > this.o.replacementWaitMs) {
        this.drain(inst, `${inst.closeReason} (replacement not open in ${this.o.replacementWaitMs} ms)`);
      }
    }
  }

  /**
   * With no instance open or starting and starts held back by backoff, the earliest time capacity
   * can come; null when some could come now.
   */
  nextCapacityAt(now: number): number | null {
    if (this.launcher.allows(now) || this.anyOpenOrStarting()) return null;
    return this.launcher.nextStartAt;
  }

  /**
   * The function's last starts ended with a function error (launcher.failingToStart) and nothing
   * is open or starting: no capacity is coming, whatever the deadline of a waiting request.
   */
  failingToStart(): boolean {
    return this.launcher.failingToStart && !this.anyOpenOrStarting();
  }

  private anyOpenOrStarting(): boolean {
    for (const inst of this.instances.values()) if (inst.state === 'starting' || inst.state === 'open') return true;
    return false;
  }

  /** Pings every channel; cuts those that did not answer the last one (liveness.ts). */
  ping(): void {
    pingChannels(this.instances.values(), this.log);
  }

  /** Every tick: the scaler decides on what it is told; the fleet starts or drains to match. */
  scale(): void {
    if (this.stopping) return;
    const now = this.now();
    const o = observe(this.instances.values(), this.demand.queuedCount, now);
    const current = o.open + o.starting;
    const d = this.scaler.decide(now, o);
    this.decisions.record(d, current);
    if (d.desired > current) {
      for (let n = d.desired - current; n > 0 && this.launcher.take(now); n--) this.start();
    } else if (d.desired < current) {
      for (const inst of scaleInOrder(this.instances.values()).slice(0, current - d.desired)) this.drain(inst, `scale-in: ${d.reason}`);
    }
  }

  /**
   * A request has to wait. Called per arriving request while requests wait, so it does not run the
   * scaler (the tick does): it only starts one instance when none is open or starting.
   */
  starved(): void {
    const now = this.now();
    // While backoff holds starts back, the tick decides (and rejects what cannot wait that long).
    if (this.stopping || !this.launcher.allows(now)) return;
    const d = this.scaler.first(now, anyActive(this.instances.values()), this.demand.queuedCount);
    if (d === null || !this.launcher.take(now)) return;
    this.decisions.record(d, 0);
    this.start();
  }

  // ── shutdown ───────────────────────────────────────────────────────────────────────────────

  /** Starts nothing more (no scale-out, no replacement, no worker joins); what is open keeps serving. */
  stopStarting(): void {
    this.stopping = true;
  }

  /** Asks every instance to finish what it serves and leave; starts nothing more. */
  beginShutdown(): void {
    this.stopping = true;
    for (const inst of this.instances.values()) {
      if (inst.state === 'open') this.drain(inst, 'router shutdown');
      else if (inst.state === 'starting') inst.state = 'closing';
    }
  }

  /** Ends every channel now (the last step of shutdown). */
  terminateAll(): void {
    for (const inst of this.instances.values()) for (const ch of inst.channels) ch.ws.terminate();
  }
}

/** Where a new Lambda instance's limit starts: the old fixed default, within the bounds. */
function initialLimit(o: Pick<FleetSettings, 'minConcurrentCount' | 'maxConcurrentCount'>): number {
  return Math.max(o.minConcurrentCount, Math.min(o.maxConcurrentCount, INITIAL_CONCURRENT));
}
