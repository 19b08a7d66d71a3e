// The relay: every client request from its head on the request ring to its terminal record on the
// response ring. It queues requests, hands each to a free channel the fleet picks, turns ring
// records into frames and frames into records, keeps the per-request credit windows both ways
// (on a multiplexed channel, with CREDIT frames to and from the extension as well),
// holds every response to the framing its head promised (framing.ts), and answers with a catalog
// error (core/errors.ts) when no channel can serve. It never starts or stops an instance: what it
// needs of capacity goes through the `Capacity` interface.
// Long because every frame of a response (head, 1xx, body, end with trailers, error) and every ring
// record of a request meet here, with the framing checks between them; split, they would share the
// exchange's state across files. What could leave has: the framing rules (framing.ts), the replay
// verdicts (replays.ts), the queue (pending-queue.ts), the report (state.ts). A tunnel (an upgraded
// request) is not a second path here: it is an exchange whose 101 lets bodies flow until either
// end, so it adds a few lines to the head and end cases, not a module. Nor is a multiplexed
// channel: its credit (sendBody/onSendCredit/onCredit) is the same per-request window, kept with
// frames instead of by pausing the socket, and it reads and writes the same exchange fields.

import type { RouterErrorCode } from '../errors.ts';
import { FLAG_END, FLAG_UPGRADE, FRAME_HEADER_BYTES, FrameError, FrameType, asBuffer, creditFrame, frame, peekFrame, readCredit, readHeaderList, readLoad, readResponseHead, type LoadReport } from '../frames.ts';
import { Rec, decodeCredit, encodeCredit, encodeResponseError, reportSize, writeReport } from '../records.ts';
import type { RingWriter } from '../ring-writer.ts';
import { batchWrites } from '../write-batch.ts';
import { FRAMING_VIOLATIONS, checkInformational, checkResponseHead, overrun, shortfall, type FramingViolation } from './framing.ts';
import { PendingQueue } from './pending-queue.ts';
import { Replays, mayReplay } from './replays.ts';
import { Exchange, MUX_CREDIT_BATCH, MUX_WINDOW_BYTES, type Channel, type Instance } from './state.ts';

export interface RelaySettings {
  windowBytes: number;
  incomingRequestTimeoutMs: number;
  maxPendingRequests: number;
}

/** What the relay needs of the fleet. */
export interface Capacity {
  /** The instance that should take the next request, none of `avoid`; `upgrade`: one with room for a socket. */
  pick(avoid: ReadonlySet<Instance>, upgrade?: boolean): Instance | undefined;
  /** A tunnel opened or closed on this instance (its channel count follows its sockets too). */
  socketsChanged(inst: Instance): void;
  /**
   * A request arrived to wait (no channel free). Called per such request, so it must be cheap: the
   * fleet grows on its tick, and here at most starts the first instance when none is coming.
   */
  starved(): void;
  /** A request reached the router, or finished after `ms` on its channel (the scaler's inputs). */
  arrived(): void;
  completed(ms: number): void;
  /** The extension asks its instance to leave (its deadline nears). */
  closeRequested(inst: Instance, reason: string): void;
  /** The extension reported its environment's load (LOAD). */
  loadReported(inst: Instance, load: LoadReport): void;
  /** A channel that may not take another request now: tell it GOAWAY. */
  retire(ch: Channel): void;
  /** A peer broke the protocol: that channel is closed, nothing else is. */
  protocolError(ch: Channel, why: string): void;
}

export interface RequestCounts {
  served: number;
  failed: number;
  /** Requests lost with their channel and sent again. */
  retried: number;
  /** Requests lost with an instance whose invoke ended in a function error: answered 502, not sent again. */
  notRetried: number;
  timedOut: number;
  rejected: number;
  aborted: number;
}

export type FramingCounts = Record<FramingViolation, number>;

const NO_INSTANCES: ReadonlySet<Instance> = new Set();
/** Response bytes of a windowed request outstanding, in windows, beyond which its sender is ignoring credit. */
const OVERRUN_WINDOWS = 4;
/** Frames up to this size wait for the end of the tick to leave together (Relay.send). */
const SMALL_FRAME_BYTES = 16 * 1024;

export class Relay {
  private readonly pending = new PendingQueue<Exchange>();
  /** Requests lost with their channel, held until it is known whether they go again (replays.ts). */
  private readonly replays = new Replays();
  /** Live exchanges by ingress slot. */
  private readonly bySlot = new Map<number, Exchange>();
  private nextId = 1;
  private stopping = false;
  readonly counts: RequestCounts = { served: 0, failed: 0, retried: 0, notRetried: 0, timedOut: 0, rejected: 0, aborted: 0 };
  /** Responses stopped because the peer broke HTTP framing, by kind. */
  readonly framing = Object.fromEntries(FRAMING_VIOLATIONS.map((v) => [v, 0])) as FramingCounts;
  /** Times a channel was paused because its client had a whole window unread (a slow client). */
  windowStalls = 0;

  constructor(
    private readonly o: RelaySettings,
    private readonly ring: RingWriter,
    private readonly capacity: Capacity,
    private readonly now: () => number,
    private readonly log: (msg: string) => void,
  ) {}

  get pendingCount(): number {
    return this.pending.size + this.replays.size;
  }

  /**
   * Requests in the queue, without those held until their lost instance's outcome is known (at
   * most 1 s): a held one may never go again (its environment crashed), so it starts nothing.
   */
  get queuedCount(): number {
    return this.pending.size;
  }

  // ── records from ingress ───────────────────────────────────────────────────────────────────

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
    const flags = payload[0] ?? 0;
    const ex = new Exchange(this.nextId, slot, method, payload.slice(), this.now(), (flags & FLAG_END) !== 0);
    ex.upgrade = (flags & FLAG_UPGRADE) !== 0;
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1;
    this.bySlot.set(slot, ex);
    this.capacity.arrived();
    if (this.stopping) return this.fail(ex, 'LD_SHUTTING_DOWN');
    if (this.pending.size >= this.o.maxPendingRequests) {
      this.counts.rejected++;
      return this.fail(ex, 'LD_QUEUE_FULL');
    }
    this.pending.push(ex);
    this.pump();
    if (this.pending.size > 0) this.capacity.starved();
  }

  private onRequestBody(slot: number, payload: Uint8Array): void {
    const ex = this.bySlot.get(slot);
    if (ex === undefined) return;
    if (ex.channel === null) ex.buffered.push(payload.slice());
    else this.sendBody(ex, ex.channel, payload);
  }

  private sendBody(ex: Exchange, ch: Channel, payload: Uint8Array): void {
    // On a multiplexed channel the extension cannot stop reading for one request: it credits what
    // its app took, and what is beyond the credit waits here (at most ingress's window of it).
    if (ex.windowed && (ex.sendCredit <= 0 || ex.buffered.length > 0)) {
      ex.buffered.push(payload.slice());
      return;
    }
    const n = payload.byteLength;
    ex.sendCredit -= n;
    // Credit returns only once the bytes are handed to the kernel: ingress keeps at most one
    // window of this request's body in memory, whatever the client's speed.
    this.send(ch, frame(FrameType.REQ_BODY, 0, ex.id, payload), (err) => {
      if (!err && !ex.detached) this.ring.write(Rec.CREDIT, ex.slot, encodeCredit(n));
    });
  }

  /** REQ_END once every body byte before it has gone. */
  private sendEnd(ex: Exchange, ch: Channel): void {
    if (ex.buffered.length === 0) this.send(ch, frame(FrameType.REQ_END, 0, ex.id));
  }

  /** The extension's app took `bytes` more of a windowed request's body: send what waited for it. */
  private onSendCredit(ex: Exchange, ch: Channel, bytes: number): void {
    if (!ex.windowed || ex.state === 'done') return;
    ex.sendCredit += bytes;
    const held = ex.buffered;
    ex.buffered = [];
    for (const chunk of held) this.sendBody(ex, ch, chunk);
    if (ex.requestEnded && ex.buffered.length === 0 && held.length > 0 && (ex.head[0]! & FLAG_END) === 0) this.sendEnd(ex, ch);
  }

  private onRequestEnd(slot: number): void {
    const ex = this.bySlot.get(slot);
    if (ex === undefined) return;
    ex.requestEnded = true;
    if (ex.channel !== null && ex.state !== 'done') this.sendEnd(ex, ex.channel);
  }

  private onRequestAbort(slot: number): void {
    const ex = this.bySlot.get(slot);
    if (ex === undefined) return;
    this.counts.aborted++;
    if (ex.state === 'pending') {
      if (!this.pending.remove(ex)) this.replays.remove(ex);
      return this.terminate(ex, null);
    }
    const ch = ex.channel;
    this.terminate(ex, null);
    // The channel stays busy until the extension confirms with RES_END/RES_ERROR; it must be
    // reading again to see that confirmation, which the fleet waits for only so long.
    if (ch !== null) {
      ex.abortedAt = this.now();
      ex.buffered = [];
      if (ch.paused) this.resume(ch);
      this.send(ch, frame(FrameType.REQ_ABORT, 0, ex.id));
    }
  }

  private onCredit(slot: number, bytes: number): void {
    const ex = this.bySlot.get(slot);
    if (ex === undefined) return;
    ex.responseOutstanding -= bytes;
    const ch = ex.channel;
    if (ch === null) return;
    // The client took these bytes: the extension may send as many more of this response.
    if (ex.windowed) {
      ex.creditOwed += bytes;
      if (ex.creditOwed >= MUX_CREDIT_BATCH) {
        this.send(ch, creditFrame(ex.id, ex.creditOwed));
        ex.creditOwed = 0;
      }
    } else if (ch.paused && ex.responseOutstanding <= this.o.windowBytes / 2) this.resume(ch);
  }

  // ── frames from the extension ──────────────────────────────────────────────────────────────

  onFrame(ch: Channel, data: Buffer): void {
    let type: number, flags: number, id: number;
    try {
      ({ type, flags, id } = peekFrame(data));
    } catch (err) {
      return this.capacity.protocolError(ch, (err as FrameError).message);
    }
    if (type === FrameType.CLOSE_REQUEST) return this.capacity.closeRequested(ch.instance, data.toString('utf8', FRAME_HEADER_BYTES));
    if (type === FrameType.LOAD) return this.capacity.loadReported(ch.instance, readLoad(data.subarray(FRAME_HEADER_BYTES)));
    if (type === FrameType.CREDIT && !ch.multiplexed) return this.capacity.protocolError(ch, 'CREDIT on a channel that is not multiplexed');
    const ex = ch.find(id);
    // Frames for a request that is no longer this channel's (e.g. after an abort) are stale.
    if (ex === undefined) return;
    // After REQ_ABORT only the extension's confirmation (or a last head) matters.
    if (ex.abortedAt !== 0 && (type === FrameType.RES_BODY || type === FrameType.RES_INFO || type === FrameType.CREDIT)) return;
    switch (type) {
      case FrameType.CREDIT:
        return this.onSendCredit(ex, ch, readCredit(data.subarray(FRAME_HEADER_BYTES)));
      case FrameType.RES_HEAD: {
        if (ex.state !== 'sent') return this.capacity.protocolError(ch, 'second response head');
        ex.state = 'responding';
        ex.firstByteAt = this.now();
        const { head, offset } = readResponseHead(data, FRAME_HEADER_BYTES, flags);
        const verdict = checkResponseHead(ex.method, head.status, head.headers, ex.upgrade);
        if (!verdict.ok) return this.framingViolation(ex, ch, verdict.violation);
        if (head.status === 101) {
          ch.becomeTunnel(ex);
          this.capacity.socketsChanged(ch.instance);
        }
        ex.responseBody = verdict.body;
        ex.responseBytes = data.length - offset;
        if (overrun(ex.responseBody, ex.responseBytes)) return this.framingViolation(ex, ch, 'long-body');
        const end = (flags & FLAG_END) !== 0;
        if (end && shortfall(ex.responseBody, ex.responseBytes)) return this.framingViolation(ex, ch, 'short-body');
        if (!ex.detached) this.relayHead(ex, data, flags, offset);
        if (end) this.complete(ex, ch, null);
        return;
      }
      case FrameType.RES_BODY: {
        if (ex.state === 'sent') return this.capacity.protocolError(ch, 'response body before head');
        const body = data.subarray(FRAME_HEADER_BYTES);
        ex.responseBytes += body.length;
        // Not one byte past the promised length reaches the client: it would read them as its next
        // response. What fits is still the response the head promised, so it goes through.
        if (overrun(ex.responseBody, ex.responseBytes)) {
          const fits = body.length - (ex.responseBytes - (ex.responseBody as { bytes: number }).bytes);
          if (fits > 0 && !ex.detached) this.ring.write(Rec.RES_BODY, ex.slot, body.subarray(0, fits));
          return this.framingViolation(ex, ch, 'long-body');
        }
        if (ex.detached) return;
        this.ring.write(Rec.RES_BODY, ex.slot, body);
        ex.responseOutstanding += body.length;
        if (ex.windowed) {
          // The extension sends within its credit; one far beyond it ignores the protocol, and
          // that request (only) ends here.
          if (ex.responseOutstanding > OVERRUN_WINDOWS * MUX_WINDOW_BYTES) {
            this.counts.failed++;
            this.log(`request ${ex.id}: ${ch.instance.id}/${ch.index} sent ${ex.responseOutstanding} response bytes its client has not taken, beyond its credit`);
            this.terminate(ex, 'LD_BAD_RESPONSE_FRAMING');
            this.abandon(ex, ch);
          }
          return;
        }
        if (ex.responseOutstanding > this.o.windowBytes && !ch.paused) {
          this.windowStalls++;
          ch.paused = true;
          ch.ws.pause();
        }
        return;
      }
      case FrameType.RES_INFO: {
        // Informational responses come before the final head, and are 1xx (not 101).
        if (ex.state !== 'sent') return this.capacity.protocolError(ch, 'informational response after the head');
        const { head } = readResponseHead(data, FRAME_HEADER_BYTES, flags);
        const violation = checkInformational(head.status);
        if (violation !== null) return this.framingViolation(ex, ch, violation);
        if (ex.detached) return;
        const length = data.length - FRAME_HEADER_BYTES + 1;
        // Advisory: one too large for a record is dropped rather than fail the response.
        if (length > this.ring.maxPayload) return;
        this.ring.writeWith(Rec.RES_INFO, ex.slot, length, (dst) => {
          dst[0] = flags;
          dst.set(data.subarray(FRAME_HEADER_BYTES), 1);
        });
        return;
      }
      case FrameType.RES_END: {
        // After REQ_ABORT this is the extension's confirmation, whatever it had sent: the
        // response was already cut off, there is no framing left to hold it to.
        if (ex.abortedAt !== 0) return this.complete(ex, ch, null);
        if (ex.state === 'sent') return this.capacity.protocolError(ch, 'response end before head');
        if (shortfall(ex.responseBody, ex.responseBytes)) return this.framingViolation(ex, ch, 'short-body');
        let trailers: Uint8Array | undefined;
        if (data.length > FRAME_HEADER_BYTES) {
          trailers = data.subarray(FRAME_HEADER_BYTES);
          readHeaderList(trailers); // a malformed list is the peer's protocol error (thrown as FrameError)
          // Trailers too large for one record are dropped; the response itself is complete.
          if (trailers.length > this.ring.maxPayload - 128) trailers = undefined;
        }
        return this.complete(ex, ch, null, trailers);
      }
      case FrameType.RES_ERROR:
        if (ex.abortedAt !== 0) return this.complete(ex, ch, null);
        this.log(`request ${ex.id} failed in the extension: ${data.toString('utf8', FRAME_HEADER_BYTES)}`);
        this.counts.failed++;
        return this.complete(ex, ch, 'LD_FUNCTION_FAILED');
      default:
        return this.capacity.protocolError(ch, `unexpected frame type ${type} from the extension`);
    }
  }

  /**
   * The peer broke the framing its head promised: the response stops here (502 if the client got
   * nothing yet, else its connection is closed: ingress cannot end a response that is short of its
   * length any other way), and the peer's channel is closed, since what it sends next is suspect.
   */
  private framingViolation(ex: Exchange, ch: Channel, violation: FramingViolation): void {
    if (ex.abortedAt !== 0) return; // already given up on: what it still sends is dropped
    this.framing[violation]++;
    this.counts.failed++;
    this.log(`request ${ex.id}: response framing broken by ${ch.instance.id}/${ch.index}: ${violation}`);
    this.terminate(ex, 'LD_BAD_RESPONSE_FRAMING');
    if (ch.multiplexed) this.abandon(ex, ch);
    else this.capacity.protocolError(ch, `response framing: ${violation}`);
  }

  /**
   * On a multiplexed channel one request's fault ends that request, not the others it carries:
   * REQ_ABORT, and its frames are dropped until the extension confirms (as for a client gone).
   */
  private abandon(ex: Exchange, ch: Channel): void {
    ex.abortedAt = this.now();
    ex.buffered = [];
    this.send(ch, frame(FrameType.REQ_ABORT, 0, ex.id));
  }

  /** RES_HEAD is the frame minus its id, in one copy; a head whose inline body makes it too big for one record goes as head then body. */
  private relayHead(ex: Exchange, data: Buffer, flags: number, offset: number): void {
    const length = data.length - FRAME_HEADER_BYTES + 1;
    if (length <= this.ring.maxPayload) {
      this.ring.writeWith(Rec.RES_HEAD, ex.slot, length, (dst) => {
        dst[0] = flags;
        dst.set(data.subarray(FRAME_HEADER_BYTES), 1);
      });
      return;
    }
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

  /** A channel closed under its requests: each held for a verdict (replays.ts) when it may go again, else answered. */
  channelLost(ch: Channel): void {
    const tunnel = ch.tunnel;
    for (const ex of [...ch.exchanges()]) {
      ch.detach(ex);
      if (ex.detached) continue;
      if (mayReplay(ex) && !this.stopping) {
        this.replays.hold(ex, ch.instance, ch.silent, this.now());
      } else {
        this.counts.failed++;
        this.terminate(ex, 'LD_INSTANCE_LOST');
      }
    }
    if (tunnel) this.capacity.socketsChanged(ch.instance);
  }

  // ── matching requests to channels ──────────────────────────────────────────────────────────

  /** Gives waiting requests to free channels until one or the other runs out. */
  pump(): void {
    while (this.pending.size > 0) {
      // A retried request prefers another instance, but takes one it was lost on rather than stall the queue.
      const next = this.pending.peek()!;
      const avoid = next.failedOn;
      const inst = this.capacity.pick(avoid, next.upgrade) ?? (avoid.size > 0 ? this.capacity.pick(NO_INSTANCES, next.upgrade) : undefined);
      if (inst === undefined) return;
      const ch = inst.take(next.upgrade);
      if (ch === undefined) continue;
      this.assign(this.pending.shift()!, ch);
    }
  }

  private assign(ex: Exchange, ch: Channel): void {
    const inst = ch.instance;
    if (ex.upgrade && !inst.acceptsUpgrade) {
      inst.idle.push(ch);
      return this.terminate(ex, 'LD_UPGRADE_UNSUPPORTED');
    }
    ch.attach(ex);
    ex.windowed = ch.multiplexed && !ex.upgrade;
    ex.sendCredit = MUX_WINDOW_BYTES;
    ex.state = 'sent';
    ex.assignedAt = this.now();
    ex.firstByteAt = 0;
    ex.servedBy = inst.shortId;
    inst.lastBusyAt = ex.assignedAt;
    const head = ex.head;
    // The ring's head record is [flags][head section][inline body]: the frame's flags and body.
    this.send(ch, frame(FrameType.REQ_HEAD, head[0]!, ex.id, head.subarray(1)));
    const buffered = ex.buffered;
    ex.buffered = [];
    for (const chunk of buffered) this.sendBody(ex, ch, chunk);
    if (ex.requestEnded && (head[0]! & FLAG_END) === 0) this.sendEnd(ex, ch);
  }

  /** The extension finished with the request: free the channel and answer ingress if still listening. */
  private complete(ex: Exchange, ch: Channel, error: RouterErrorCode | null, trailers?: Uint8Array): void {
    if (!ex.detached) {
      if (error === null) this.counts.served++;
      this.terminate(ex, error, trailers);
    }
    const tunnel = ch.tunnel && ex.upgrade;
    ch.detach(ex);
    ex.buffered = [];
    const inst = ch.instance;
    inst.lastBusyAt = this.now();
    // A socket's life is not a request's duration: it would skew the scaler's averages.
    if (tunnel) this.capacity.socketsChanged(inst);
    else this.capacity.completed(this.now() - ex.assignedAt);
    if (ch.paused) this.resume(ch);
    if (inst.state === 'open' && !ch.goaway) {
      // A multiplexed channel goes back to the idle list when empty (an upgrade needs that), once:
      // its HTTP requests never take it off the list.
      if (ch.count === 0 && !(ch.multiplexed && inst.idle.includes(ch))) inst.idle.push(ch);
      this.pump();
    } else {
      this.capacity.retire(ch);
    }
  }

  /**
   * Writes the slot's terminal record (RES_END, with the response's trailer list when it has one,
   * or RES_ERROR with a code); nothing more follows for this slot.
   */
  private terminate(ex: Exchange, error: RouterErrorCode | null, trailers?: Uint8Array): void {
    if (ex.detached) return;
    ex.detached = true;
    ex.state = ex.channel === null ? 'done' : ex.state;
    this.bySlot.delete(ex.slot);
    const report = ex.report(this.now());
    const tail = error !== null ? encodeResponseError(error) : trailers;
    const length = reportSize(report) + (tail?.byteLength ?? 0);
    this.ring.writeWith(error !== null ? Rec.RES_ERROR : Rec.RES_END, ex.slot, length, (dst) => {
      const at = writeReport(dst, report);
      if (tail !== undefined) dst.set(tail, at);
    });
  }

  /** Answers a request that never reached a channel. */
  private fail(ex: Exchange, error: RouterErrorCode): void {
    ex.state = 'done';
    this.terminate(ex, error);
  }

  /**
   * Small frames sent to a channel in one tick leave in one write (several requests' heads, on a
   * multiplexed one). A body chunk is not held for the tick: corking a stream's chunks measured
   * slower (1 GiB echo: 89 against 108 MB/s), as its write, and so its credit, waits.
   */
  private send(ch: Channel, data: Buffer, sent?: (err?: Error) => void): void {
    if (data.byteLength <= SMALL_FRAME_BYTES) batchWrites(ch.ws);
    ch.ws.send(data, sent);
  }

  private resume(ch: Channel): void {
    ch.paused = false;
    ch.alive = true;
    ch.ws.resume();
  }

  // ── timeouts and shutdown ──────────────────────────────────────────────────────────────────

  /** Held requests whose verdict is in queue again, first in line, or are answered 502. */
  requeueRetries(): void {
    if (this.replays.size === 0) return;
    const { replay, refuse } = this.replays.decide(this.now());
    for (const ex of refuse) {
      this.counts.notRetried++;
      this.counts.failed++;
      const outcome = ex.lostOn!.outcome;
      this.log(`request ${ex.id} not sent again: its instance ${ex.lostOn!.id} failed (${outcome?.kind === 'function-error' ? outcome.errorType : '?'}) while serving it`);
      this.fail(ex, 'LD_INSTANCE_FAILED');
    }
    this.counts.retried += replay.length;
    for (let i = replay.length - 1; i >= 0; i--) this.pending.unshift(replay[i]!);
    if (replay.length > 0) this.pump();
  }

  /** 504 for every request that has waited its whole queue timeout. */
  expire(now: number): void {
    for (let ex = this.pending.peek(); ex !== undefined && now - ex.arrivedAt >= this.o.incomingRequestTimeoutMs; ex = this.pending.peek()) {
      this.pending.shift();
      this.counts.timedOut++;
      this.fail(ex, 'LD_QUEUE_TIMEOUT');
    }
  }

  /**
   * Answers now every request whose queue deadline comes before the next instance can start
   * (LD_NO_CAPACITY, 503); with Infinity and LD_FUNCTION_START_FAILED, every waiting request.
   */
  rejectBefore(nextStartAt: number, code: 'LD_NO_CAPACITY' | 'LD_FUNCTION_START_FAILED' = 'LD_NO_CAPACITY'): void {
    for (let ex = this.pending.peek(); ex !== undefined && ex.arrivedAt + this.o.incomingRequestTimeoutMs < nextStartAt; ex = this.pending.peek()) {
      this.pending.shift();
      this.counts.rejected++;
      this.fail(ex, code);
    }
  }

  /** Refuses new requests and answers every waiting one. */
  beginShutdown(): void {
    this.stopping = true;
    for (const ex of this.replays.takeAll().reverse()) this.pending.unshift(ex);
    for (let ex = this.pending.shift(); ex !== undefined; ex = this.pending.shift()) this.fail(ex, 'LD_SHUTTING_DOWN');
  }
}
