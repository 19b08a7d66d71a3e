// The dispatcher: matches queued requests to free channels, relays frames between the rings and
// the WebSockets, and keeps the instance pool at the size the scaler asks for.
//
// Everything here runs on the dispatcher worker's event loop; I/O is reached through the ring
// writer, the WebSockets and the invoker, and time through `now()`, so the rules stay testable.

import { randomBytes, randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import {
  FLAG_END,
  FRAME_HEADER_BYTES,
  FrameError,
  FrameType,
  asBuffer,
  peekFrame,
  readResponseHead,
} from '../frames.ts';
import { Rec, decodeCredit, encodeCredit, encodeResponseError } from '../records.ts';
import type { RingWriter } from '../ring-writer.ts';
import { Backoff, TokenBucket } from '../backoff.ts';
import type { ChannelAuthority } from './channel-server.ts';
import { Exchange } from './exchange.ts';
import { Channel, Instance, type InstanceState } from './instance.ts';
import type { InvokeFailureKind, InvokeOutcome, InvokePayload } from './invoker.ts';
import { PendingQueue } from './pending-queue.ts';
import { Scaler, type Decision } from './scaler.ts';

export interface DispatcherOptions {
  routerUrl: string;
  channelCount: number;
  maxConcurrent: number;
  instanceCountMultiplier: number;
  scalingAlgorithm: 'simple' | 'ewma';
  minInstances: number;
  maxInstances: number;
  scaleOutIntervalMs: number;
  scaleInIntervalMs: number;
  queueTimeoutMs: number;
  maxPending: number;
  pingIntervalMs: number;
  windowBytes: number;
  /** A started instance that has opened no channel by then is given up. */
  startTimeoutMs: number;
  /** A draining instance's busy channels are told GOAWAY by then regardless. */
  drainTimeoutMs: number;
  /** An instance that asked to leave keeps serving this long at most while its replacement starts. */
  replacementWaitMs: number;
}

export interface Invoke {
  (payload: InvokePayload): Promise<InvokeOutcome>;
}

export interface StatusSnapshot {
  instances: Record<Exclude<InstanceState, 'closed'>, number>;
  workers: { connected: number; busy: number };
  desired: number;
  lastDecision: Decision;
  pending: number;
  inFlight: number;
  channels: { open: number; busy: number };
  invokes: { started: number; failed: number; failuresByKind: Record<string, number>; consecutiveFailures: number };
  requests: { served: number; failed: number; retried: number; timedOut: number; rejected: number; aborted: number };
}

export class Dispatcher implements ChannelAuthority {
  private readonly instances = new Map<string, Instance>();
  private readonly pending = new PendingQueue<Exchange>();
  /** Live exchanges by ingress slot. */
  private readonly bySlot = new Map<number, Exchange>();
  private readonly scaler: Scaler;
  private readonly backoff = new Backoff(500, 30_000);
  private readonly starts: TokenBucket;
  private nextId = 1;
  private inFlight = 0;
  private stopping = false;
  private readonly stats = {
    invokesStarted: 0,
    invokesFailed: 0,
    failuresByKind: {} as Record<string, number>,
    served: 0,
    failed: 0,
    retried: 0,
    timedOut: 0,
    rejected: 0,
    aborted: 0,
  };

  constructor(
    private readonly o: DispatcherOptions,
    private readonly ring: RingWriter,
    private readonly invoke: Invoke,
    private readonly now: () => number = Date.now,
    private readonly log: (msg: string) => void = () => {},
  ) {
    const t = now();
    this.scaler = new Scaler(
      {
        algorithm: o.scalingAlgorithm,
        maxConcurrent: o.maxConcurrent,
        instanceCountMultiplier: o.instanceCountMultiplier,
        minInstances: o.minInstances,
        maxInstances: o.maxInstances,
        scaleOutIntervalMs: o.scaleOutIntervalMs,
        scaleInIntervalMs: o.scaleInIntervalMs,
      },
      t,
    );
    this.starts = new TokenBucket(Math.max(10, o.minInstances), 20, t);
  }

  // ── ingress records ────────────────────────────────────────────────────────────────────────

  onRecord = (type: number, slot: number, payload: Uint8Array): void => {
    switch (type) {
      case Rec.REQ_HEAD:
        return this.onRequestHead(slot, payload);
      case Rec.REQ_BODY:
        return this.onRequestBody(slot, payload);
      case Rec.REQ_END:
        return this.onRequestEnd(slot);
      case Rec.REQ_ABORT:
        return this.onRequestAbort(slot);
      case Rec.CREDIT:
        return this.onCredit(slot, decodeCredit(payload));
      default:
        this.log(`dispatcher: ignoring unknown ring record type ${type}`);
    }
  };

  private onRequestHead(slot: number, payload: Uint8Array): void {
    const methodLength = payload[1] ?? 0;
    const method = asBuffer(payload).toString('latin1', 2, 2 + methodLength);
    const ex = new Exchange(this.nextId, slot, method, payload.slice(), this.now(), ((payload[0] ?? 0) & FLAG_END) !== 0);
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1;
    this.bySlot.set(slot, ex);
    this.scaler.arrived();
    if (this.stopping) return this.fail(ex, 503, 'router is shutting down');
    if (this.pending.size >= this.o.maxPending) {
      this.stats.rejected++;
      return this.fail(ex, 503, 'too many requests waiting');
    }
    this.pending.push(ex);
    this.pump();
    if (this.pending.size > 0) this.scale();
  }

  private onRequestBody(slot: number, payload: Uint8Array): void {
    const ex = this.bySlot.get(slot);
    if (ex === undefined) return;
    if (ex.channel === null) ex.buffered.push(payload.slice());
    else this.sendBody(ex, ex.channel, payload);
  }

  private sendBody(ex: Exchange, ch: Channel, payload: Uint8Array): void {
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
    frame[0] = FrameType.REQ_BODY;
    frame[1] = 0;
    frame.writeUInt32BE(ex.id, 2);
    frame.set(payload, FRAME_HEADER_BYTES);
    const n = payload.byteLength;
    // Credit returns only once the bytes are handed to the kernel: ingress keeps at most one
    // window of this request's body in memory, whatever the client's speed.
    ch.ws.send(frame, (err) => {
      if (!err && !ex.detached) this.ring.write(Rec.CREDIT, ex.slot, encodeCredit(n));
    });
  }

  private onRequestEnd(slot: number): void {
    const ex = this.bySlot.get(slot);
    if (ex === undefined) return;
    ex.requestEnded = true;
    if (ex.channel !== null && ex.state !== 'done') this.sendBare(ex.channel, FrameType.REQ_END, ex.id);
  }

  private onRequestAbort(slot: number): void {
    const ex = this.bySlot.get(slot);
    if (ex === undefined) return;
    this.stats.aborted++;
    if (ex.state === 'pending') {
      this.pending.remove(ex);
      return this.terminate(ex, Rec.RES_END);
    }
    const ch = ex.channel;
    this.terminate(ex, Rec.RES_END);
    // The channel stays busy until the extension confirms with RES_END/RES_ERROR; it must be
    // reading again to see that confirmation.
    if (ch !== null) {
      if (ch.paused) this.resume(ch);
      this.sendBare(ch, FrameType.REQ_ABORT, ex.id);
    }
  }

  private onCredit(slot: number, bytes: number): void {
    const ex = this.bySlot.get(slot);
    if (ex === undefined) return;
    ex.responseOutstanding -= bytes;
    const ch = ex.channel;
    if (ch !== null && ch.paused && ex.responseOutstanding <= this.o.windowBytes / 2) this.resume(ch);
  }

  // ── channels ───────────────────────────────────────────────────────────────────────────────

  tokenFor(instanceId: string): Buffer | null | 'closing' {
    const inst = this.instances.get(instanceId);
    if (inst === undefined || inst.state === 'closed' || inst.kind === 'worker') return null;
    if (inst.state === 'closing' || inst.state === 'draining') return 'closing';
    return inst.token;
  }

  rejected(status: number, why: string): void {
    this.log(`channel refused: ${status} ${why}`);
  }

  accept(instanceId: string, index: number, ws: WebSocket): void {
    const inst = this.instances.get(instanceId);
    if (inst === undefined || (inst.state !== 'starting' && inst.state !== 'open')) {
      ws.close(1008, 'instance not accepting channels');
      return;
    }
    const ch = new Channel(ws, inst, index);
    inst.channels.add(ch);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      ch.alive = true;
      if (!isBinary) return this.protocolError(ch, 'text message on a channel');
      try {
        this.onFrame(ch, data);
      } catch (err) {
        // Whatever a peer sends costs at most its own channel, never the worker.
        this.protocolError(ch, err instanceof Error ? err.message : String(err));
      }
    });
    ws.on('pong', () => {
      ch.alive = true;
    });
    ws.on('close', () => this.onChannelClosed(ch));
    ws.on('error', (err) => this.log(`channel ${inst.id}/${index} error: ${err.message}`));
    if (inst.state === 'starting') {
      inst.state = 'open';
      inst.openedAt = this.now();
      this.backoff.succeeded();
      if (inst.replaces !== null) {
        this.drain(inst.replaces, 'replaced before its deadline');
        inst.replaces = null;
      }
    }
    inst.idle.push(ch);
    this.pump();
  }

  /** A container worker's channel: its instance exists for as long as it has channels. */
  acceptWorker(workerId: string, index: number, maxConcurrent: number, ws: WebSocket): void {
    if (this.stopping) {
      ws.close(1013, 'router is shutting down');
      return;
    }
    const id = `worker:${workerId}`;
    let inst = this.instances.get(id);
    if (inst === undefined || inst.state === 'closed') {
      inst = new Instance(id, Buffer.alloc(0), maxConcurrent, this.now(), 'worker');
      inst.state = 'open';
      inst.openedAt = this.now();
      inst.invokeEnded = true; // nothing to wait for once its channels are gone
      this.instances.set(id, inst);
      this.log(`container worker ${workerId} connected (${maxConcurrent} at once)`);
    }
    if (inst.state !== 'open') {
      ws.close(1013, 'not accepting channels');
      return;
    }
    this.accept(id, index, ws);
  }

  private protocolError(ch: Channel, why: string): void {
    this.log(`channel ${ch.instance.id}/${ch.index}: protocol error: ${why}`);
    // Closing takes a handshake: until it ends, no request may be given to this channel.
    ch.goaway = true;
    ch.ws.close(1002, why.slice(0, 120));
  }

  private onFrame(ch: Channel, data: Buffer): void {
    let type: number, flags: number, id: number;
    try {
      ({ type, flags, id } = peekFrame(data));
    } catch (err) {
      return this.protocolError(ch, (err as FrameError).message);
    }
    if (type === FrameType.CLOSE_REQUEST) return this.onCloseRequest(ch.instance, data.toString('utf8', FRAME_HEADER_BYTES));
    const ex = ch.exchange;
    // Frames for a request that is no longer this channel's (e.g. after an abort) are stale.
    if (ex === null || ex.id !== id) return;
    switch (type) {
      case FrameType.RES_HEAD: {
        if (ex.state !== 'sent') return this.protocolError(ch, 'second response head');
        ex.state = 'responding';
        if (!ex.detached) this.relayHead(ex, data, flags);
        if ((flags & FLAG_END) !== 0) this.complete(ex, ch, Rec.RES_END);
        return;
      }
      case FrameType.RES_BODY: {
        if (ex.state === 'sent') return this.protocolError(ch, 'response body before head');
        if (ex.detached) return;
        const body = data.subarray(FRAME_HEADER_BYTES);
        this.ring.write(Rec.RES_BODY, ex.slot, body);
        ex.responseOutstanding += body.length;
        if (ex.responseOutstanding > this.o.windowBytes && !ch.paused) {
          ch.paused = true;
          ch.ws.pause();
        }
        return;
      }
      case FrameType.RES_END:
        return this.complete(ex, ch, Rec.RES_END);
      case FrameType.RES_ERROR:
        this.log(`request ${ex.id} failed in the extension: ${data.toString('utf8', FRAME_HEADER_BYTES)}`);
        this.stats.failed++;
        return this.complete(ex, ch, Rec.RES_ERROR, 'the function could not serve the request');
      default:
        return this.protocolError(ch, `unexpected frame type ${type} from the extension`);
    }
  }

  /**
   * The extension wants to leave (its deadline nears). If it is still needed, a replacement starts
   * now and the old instance keeps serving until the replacement opens (bounded), so no request
   * waits on a cold start because an instance reached its timeout.
   */
  /** RES_HEAD is the frame minus its id, in one copy; a head whose inline body makes it too big for one record goes as head then body. */
  private relayHead(ex: Exchange, data: Buffer, flags: number): void {
    const length = data.length - FRAME_HEADER_BYTES + 1;
    if (length <= this.ring.maxPayload) {
      this.ring.writeWith(Rec.RES_HEAD, ex.slot, length, (dst) => {
        dst[0] = flags;
        dst.set(data.subarray(FRAME_HEADER_BYTES), 1);
      });
      return;
    }
    const { offset } = readResponseHead(data, FRAME_HEADER_BYTES);
    const headLength = offset - FRAME_HEADER_BYTES + 1;
    if (headLength > this.ring.maxPayload) throw new FrameError('ERR_FRAME_FIELD_TOO_LONG', `response head of ${headLength} bytes`);
    this.ring.writeWith(Rec.RES_HEAD, ex.slot, headLength, (dst) => {
      dst[0] = flags;
      dst.set(data.subarray(FRAME_HEADER_BYTES, offset), 1);
    });
    const body = data.subarray(offset);
    this.ring.write(Rec.RES_BODY, ex.slot, body);
    ex.responseOutstanding += body.length;
  }

  private onCloseRequest(inst: Instance, reason: string): void {
    if (inst.state !== 'open' || inst.leavingSince !== 0) return;
    const now = this.now();
    inst.leavingSince = now;
    inst.closeReason = `close-request: ${reason}`;
    const needed = inst.outstanding > 0 || this.pending.size > 0 || this.activeCount() < this.scaler.last.desired;
    if (needed && !this.stopping && this.backoff.allows(now)) {
      this.start().replaces = inst;
    } else {
      this.drain(inst, inst.closeReason);
    }
  }

  /** Instances that count as capacity: starting or open, and not on their way out. */
  private activeCount(): number {
    let n = 0;
    for (const inst of this.instances.values()) {
      if (inst.kind === 'lambda' && (inst.state === 'starting' || inst.state === 'open') && inst.leavingSince === 0) n++;
    }
    return n;
  }

  private onChannelClosed(ch: Channel): void {
    const inst = ch.instance;
    inst.channels.delete(ch);
    const ex = ch.exchange;
    if (ex !== null) {
      ch.exchange = null;
      ex.channel = null;
      inst.outstanding--;
      this.inFlight--;
      if (!ex.detached) {
        if (ex.state === 'sent' && ex.retryable && !ex.retried && !this.stopping) {
          // Nothing came back and sending it again cannot do harm: once, at the front of the queue.
          ex.retried = true;
          ex.failedOn = inst;
          ex.state = 'pending';
          this.stats.retried++;
          this.pending.unshift(ex);
        } else {
          this.stats.failed++;
          this.terminate(ex, Rec.RES_ERROR, 'the function instance went away');
        }
      }
    }
    if (inst.channels.size === 0 && inst.state !== 'starting') {
      if (inst.state === 'open' || inst.state === 'draining') inst.state = 'closing';
      if (inst.invokeEnded) this.closed(inst);
    }
    this.pump();
  }

  // ── matching requests to channels ──────────────────────────────────────────────────────────

  private pump(): void {
    while (this.pending.size > 0) {
      // A retried request prefers another instance, but takes its old one rather than stall the queue.
      const avoid = this.pending.peek()!.failedOn;
      const inst = this.leastOutstanding(avoid) ?? (avoid !== null ? this.leastOutstanding(null) : undefined);
      if (inst === undefined) return;
      const ch = inst.takeIdle();
      if (ch === undefined) continue;
      this.assign(this.pending.shift()!, ch);
    }
  }

  /** Container workers first (they cost nothing extra), then the Lambda with the fewest requests. */
  private leastOutstanding(avoid: Instance | null = null): Instance | undefined {
    let best: Instance | undefined;
    for (const inst of this.instances.values()) {
      if (!inst.available || inst === avoid) continue;
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

  private assign(ex: Exchange, ch: Channel): void {
    const inst = ch.instance;
    ch.exchange = ex;
    ex.channel = ch;
    ex.state = 'sent';
    ex.assignedAt = this.now();
    inst.outstanding++;
    inst.requests++;
    inst.lastBusyAt = ex.assignedAt;
    this.inFlight++;
    const head = ex.head;
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + head.byteLength - 1);
    frame[0] = FrameType.REQ_HEAD;
    frame[1] = head[0]!;
    frame.writeUInt32BE(ex.id, 2);
    frame.set(head.subarray(1), FRAME_HEADER_BYTES);
    ch.ws.send(frame);
    const buffered = ex.buffered;
    ex.buffered = [];
    for (const chunk of buffered) this.sendBody(ex, ch, chunk);
    if (ex.requestEnded && (head[0]! & FLAG_END) === 0) this.sendBare(ch, FrameType.REQ_END, ex.id);
  }

  /** The extension finished with the request: free the channel and answer ingress if still listening. */
  private complete(ex: Exchange, ch: Channel, terminal: number, message?: string): void {
    if (!ex.detached) {
      if (terminal === Rec.RES_END) this.stats.served++;
      this.terminate(ex, terminal, message);
    }
    ch.exchange = null;
    ex.channel = null;
    const inst = ch.instance;
    inst.outstanding--;
    inst.lastBusyAt = this.now();
    this.inFlight--;
    this.scaler.completed(this.now() - ex.assignedAt);
    if (ch.paused) this.resume(ch);
    if (inst.state === 'open' && !ch.goaway) {
      inst.idle.push(ch);
      this.pump();
    } else {
      this.goaway(ch);
    }
  }

  /** Writes the slot's terminal record; nothing more is sent to ingress for this slot. */
  private terminate(ex: Exchange, terminal: number, message = ''): void {
    if (ex.detached) return;
    ex.detached = true;
    ex.state = ex.channel === null ? 'done' : ex.state;
    this.bySlot.delete(ex.slot);
    if (terminal === Rec.RES_ERROR) {
      this.ring.write(Rec.RES_ERROR, ex.slot, encodeResponseError(502, message));
    } else {
      this.ring.write(Rec.RES_END, ex.slot);
    }
  }

  private fail(ex: Exchange, status: number, message: string): void {
    ex.detached = true;
    ex.state = 'done';
    this.bySlot.delete(ex.slot);
    this.ring.write(Rec.RES_ERROR, ex.slot, encodeResponseError(status, message));
  }

  private resume(ch: Channel): void {
    ch.paused = false;
    ch.alive = true;
    ch.ws.resume();
  }

  private sendBare(ch: Channel, type: number, id: number): void {
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    frame[0] = type;
    frame[1] = 0;
    frame.writeUInt32BE(id, 2);
    ch.ws.send(frame);
  }

  private goaway(ch: Channel): void {
    if (ch.goaway) return;
    ch.goaway = true;
    if (ch.ws.readyState === ch.ws.OPEN) this.sendBare(ch, FrameType.GOAWAY, 0);
  }

  // ── instance lifecycle ─────────────────────────────────────────────────────────────────────

  private start(): Instance {
    const id = randomUUID();
    const token = randomBytes(32).toString('base64url');
    const inst = new Instance(id, Buffer.from(token), this.o.maxConcurrent, this.now());
    this.instances.set(id, inst);
    this.stats.invokesStarted++;
    const payload: InvokePayload = {
      v: 1,
      routerUrl: this.o.routerUrl,
      instanceId: id,
      token,
      channels: this.o.channelCount,
      maxConcurrent: this.o.maxConcurrent,
      sentAt: this.now(),
    };
    this.invoke(payload).then(
      (outcome) => this.onInvokeEnded(inst, outcome),
      (err: Error) => this.onInvokeEnded(inst, { kind: 'error', name: err.name, message: err.message }),
    );
    return inst;
  }

  /** Initialises an environment ahead of need: the extension gets ready and returns at once. */
  prewarm(): void {
    this.stats.invokesStarted++;
    const payload: InvokePayload = {
      v: 1,
      routerUrl: this.o.routerUrl,
      instanceId: `prewarm-${randomUUID()}`,
      token: '',
      channels: 1,
      maxConcurrent: 1,
      sentAt: this.now(),
      initOnly: true,
    };
    void this.invoke(payload).then((outcome) => {
      if (outcome.kind === 'returned') return;
      this.stats.invokesFailed++;
      this.stats.failuresByKind[outcome.kind] = (this.stats.failuresByKind[outcome.kind] ?? 0) + 1;
      this.log(`pre-warm invoke failed (${outcome.kind}: ${outcome.message})`);
    });
  }

  private onInvokeEnded(inst: Instance, outcome: InvokeOutcome): void {
    inst.invokeEnded = true;
    const neverOpened = inst.openedAt === 0;
    let failure: InvokeFailureKind | null = null;
    if (outcome.kind !== 'returned') failure = outcome.kind;
    else if (outcome.exitReason === 'connect-failed' || neverOpened) failure = 'connect-failed';
    if (failure !== null) {
      this.stats.invokesFailed++;
      this.stats.failuresByKind[failure] = (this.stats.failuresByKind[failure] ?? 0) + 1;
      const delay = this.backoff.failed(this.now());
      const detail = outcome.kind === 'returned' ? (outcome.error ?? outcome.exitReason) : outcome.message;
      this.log(`instance ${inst.id} failed (${failure}: ${detail}); next start in ≥ ${Math.round(delay)} ms`);
    }
    inst.closeReason ||= outcome.kind === 'returned' ? outcome.exitReason : outcome.kind;
    if (inst.replaces !== null) {
      this.drain(inst.replaces, 'replacement failed to start');
      inst.replaces = null;
    }
    // The handler is gone: whatever channels remain belong to a dead (or frozen) environment.
    for (const ch of inst.channels) ch.ws.terminate();
    if (inst.channels.size === 0) this.closed(inst);
    else inst.state = 'closing';
  }

  private closed(inst: Instance): void {
    if (inst.state === 'closed') return;
    inst.state = 'closed';
    this.instances.delete(inst.id);
  }

  /** Stops sending new requests to an instance; GOAWAY to each channel once it is idle. */
  private drain(inst: Instance, reason: string): void {
    if (inst.state !== 'open' && inst.state !== 'starting') return;
    inst.closeReason = reason;
    if (inst.state === 'starting') {
      inst.state = 'closing';
      return;
    }
    inst.state = 'draining';
    inst.lastBusyAt = this.now();
    for (const ch of inst.channels) if (ch.exchange === null) this.goaway(ch);
    inst.idle.length = 0;
  }

  // ── periodic work ──────────────────────────────────────────────────────────────────────────

  /** Queue timeouts, liveness, scaling, start timeouts; called every ~100 ms. */
  tick(): void {
    const now = this.now();
    for (let ex = this.pending.peek(); ex !== undefined && now - ex.arrivedAt >= this.o.queueTimeoutMs; ex = this.pending.peek()) {
      this.pending.shift();
      this.stats.timedOut++;
      this.fail(ex, 504, 'no function instance became free in time');
    }
    for (const inst of this.instances.values()) {
      if (inst.state === 'starting' && now - inst.startedAt > this.o.startTimeoutMs) {
        this.log(`instance ${inst.id} opened no channel in ${this.o.startTimeoutMs} ms`);
        inst.state = 'closing';
        inst.closeReason = 'start-timeout';
        this.backoff.failed(now);
      }
      if (inst.state === 'draining' && now - inst.lastBusyAt > this.o.drainTimeoutMs) {
        for (const ch of inst.channels) this.goaway(ch);
      }
      if (inst.state === 'open' && inst.leavingSince !== 0 && now - inst.leavingSince > this.o.replacementWaitMs) {
        this.drain(inst, `${inst.closeReason} (replacement not open in ${this.o.replacementWaitMs} ms)`);
      }
    }
    this.failHopeless(now);
    this.scale();
  }

  /**
   * With no instance open or starting and starts held back by backoff, a request whose queue
   * deadline comes before the next possible start cannot be served: answer 503 now rather than
   * let it wait out the whole timeout.
   */
  private failHopeless(now: number): void {
    if (this.pending.size === 0 || this.backoff.allows(now)) return;
    for (const inst of this.instances.values()) if (inst.state === 'starting' || inst.state === 'open') return;
    const nextStart = this.backoff.nextStartAt;
    for (let ex = this.pending.peek(); ex !== undefined && ex.arrivedAt + this.o.queueTimeoutMs < nextStart; ex = this.pending.peek()) {
      this.pending.shift();
      this.stats.rejected++;
      this.fail(ex, 503, 'the function cannot be started right now');
    }
  }

  /** WebSocket ping on every channel; one that has not answered since the last ping is dead. */
  ping(): void {
    for (const inst of this.instances.values()) {
      for (const ch of inst.channels) {
        if (ch.paused) continue;
        if (!ch.alive) {
          this.log(`channel ${inst.id}/${ch.index} stopped answering pings`);
          ch.ws.terminate();
          continue;
        }
        ch.alive = false;
        ch.ws.ping();
      }
    }
  }

  private scale(): void {
    if (this.stopping) return;
    const now = this.now();
    const current = this.activeCount();
    // Requests on container workers need no Lambda: the scaler sees only what Lambdas carry.
    let running = 0;
    for (const inst of this.instances.values()) if (inst.kind === 'lambda') running += inst.outstanding;
    const d = this.scaler.decide(now, current, { running, pending: this.pending.size });
    if (d.desired > current) {
      for (let n = d.desired - current; n > 0 && this.backoff.allows(now) && this.starts.take(now); n--) this.start();
    } else if (d.desired < current) {
      let excess = current - d.desired;
      // Leave the longest-idle instances first; a busy one keeps serving.
      const idle = [...this.instances.values()]
        .filter(
          (i) =>
            i.kind === 'lambda' &&
            i.state === 'open' &&
            i.outstanding === 0 &&
            i.leavingSince === 0 &&
            now - i.lastBusyAt >= Math.min(this.o.scaleInIntervalMs, 5000),
        )
        .sort((a, b) => a.lastBusyAt - b.lastBusyAt);
      for (const inst of idle) {
        if (excess-- <= 0) break;
        this.drain(inst, `scale-in: ${d.reason}`);
      }
    }
  }

  // ── status and shutdown ────────────────────────────────────────────────────────────────────

  status(): StatusSnapshot {
    const instances = { starting: 0, open: 0, draining: 0, closing: 0 };
    const workers = { connected: 0, busy: 0 };
    let open = 0;
    let busy = 0;
    for (const inst of this.instances.values()) {
      if (inst.kind === 'worker') {
        workers.connected++;
        workers.busy += inst.outstanding;
      } else if (inst.state !== 'closed') instances[inst.state]++;
      for (const ch of inst.channels) {
        open++;
        if (ch.exchange !== null) busy++;
      }
    }
    return {
      instances,
      workers,
      desired: this.scaler.last.desired,
      lastDecision: this.scaler.last,
      pending: this.pending.size,
      inFlight: this.inFlight,
      channels: { open, busy },
      invokes: {
        started: this.stats.invokesStarted,
        failed: this.stats.invokesFailed,
        failuresByKind: { ...this.stats.failuresByKind },
        consecutiveFailures: this.backoff.consecutiveFailures,
      },
      requests: {
        served: this.stats.served,
        failed: this.stats.failed,
        retried: this.stats.retried,
        timedOut: this.stats.timedOut,
        rejected: this.stats.rejected,
        aborted: this.stats.aborted,
      },
    };
  }

  /** Refuses new work, fails what waits, and asks every instance to finish and leave. */
  beginShutdown(): void {
    this.stopping = true;
    for (let ex = this.pending.shift(); ex !== undefined; ex = this.pending.shift()) this.fail(ex, 503, 'router is shutting down');
    for (const inst of this.instances.values()) {
      if (inst.state === 'open') this.drain(inst, 'router shutdown');
      else if (inst.state === 'starting') inst.state = 'closing';
    }
  }

  get idle(): boolean {
    return this.instances.size === 0;
  }

  /** Ends every channel now (the last step of shutdown). */
  terminateAll(): void {
    for (const inst of this.instances.values()) for (const ch of inst.channels) ch.ws.terminate();
  }
}
