// What the dispatcher knows, in one place: instances (one invocation or one container worker), the
// channels each opened, and the exchanges (client requests) they carry. The fleet changes
// instances and channels, the relay changes exchanges; both read all three, so the types live here
// and neither module imports the other. docs/ARCHITECTURE.md describes the lifecycles.

import type { WebSocket } from 'ws';
import type { BodyLength } from './framing.ts';
import { ConcurrencyLimit, type LimitSettings } from './concurrency.ts';
import type { InvokeOutcome } from './invoker.ts';
import { toMicros, type RequestReport } from '../records.ts';
export { MUX_CREDIT_BATCH, MUX_WINDOW_BYTES } from '../protocol.ts';

/** starting → open → draining → closing → closed. */
export type InstanceState = 'starting' | 'open' | 'draining' | 'closing' | 'closed';

/** A Lambda invocation, or a container worker that stays (permanent capacity, never invoked). */
export type InstanceKind = 'lambda' | 'worker';

export type ExchangeState =
  /** in the pending queue */
  | 'pending'
  /** head sent to a channel, no response yet */
  | 'sent'
  /** response head relayed to ingress */
  | 'responding'
  /** terminal record written; may still wait for the extension to release the channel */
  | 'done';

/** What a Lambda channel's upgrade request said of its extension and environment. */
export interface ChannelHello {
  /** This invocation is its environment's first (a cold start). */
  coldStart: boolean;
  /** The extension named the `channels` feature: it holds as many channels as it is told. */
  followsLimit: boolean;
  /** The extension named the `upgrade` feature: it relays protocol upgrades as tunnels. */
  acceptsUpgrade: boolean;
  /** Both ends named `mux`: several requests at once, bodies paced by CREDIT frames. */
  multiplexed: boolean;
}

/** What a container worker's upgrade request said of it (no invoke: no cold start, no CHANNELS). */
export type WorkerHello = Pick<ChannelHello, 'acceptsUpgrade' | 'multiplexed'>;

export const NO_WORKER_FEATURES: WorkerHello = Object.freeze({ acceptsUpgrade: false, multiplexed: false });

export class Channel {
  /** Its requests by id: at most one unless multiplexed. */
  private readonly live = new Map<number, Exchange>();
  /**
   * An upgrade request went here and, if answered 101, its tunnel holds the channel: nothing else
   * goes here meanwhile (a tunnel's bytes are paced by the socket, not by credits).
   */
  exclusive = false;
  /** A pong (or any frame) arrived since the last ping. */
  alive = true;
  /** Reading is paused because the client is slower than the Lambda. */
  paused = false;
  /**
   * GOAWAY sent, the channel is closing, or its index is beyond what its instance was told to hold
   * (the extension closes it once idle): no new request goes here.
   */
  goaway = false;
  /** Cut by the router because it stopped answering pings: its host, not its app, is at fault. */
  silent = false;
  /**
   * Terminated by the router (an abort never confirmed): its close is on the way. Apart from
   * `goaway`, which a multiplexed channel gets while it still carries requests.
   */
  cut = false;
  /** Its exchange was answered 101: a tunnel (a WebSocket) holds it for the socket's life. */
  tunnel = false;

  constructor(
    readonly ws: WebSocket,
    readonly instance: Instance,
    readonly index: number,
    readonly multiplexed = false,
  ) {}

  /** Requests it carries now. */
  get count(): number {
    return this.live.size;
  }

  find(id: number): Exchange | undefined {
    return this.live.get(id);
  }

  exchanges(): IterableIterator<Exchange> {
    return this.live.values();
  }

  /** Can take an HTTP request now (an upgrade also needs it empty). */
  get free(): boolean {
    return !this.goaway && !this.exclusive && (this.multiplexed || this.live.size === 0);
  }

  /**
   * The only way a channel takes or gives back a request, so the instance's count of requests in
   * flight always equals what its channels carry.
   */
  attach(ex: Exchange): void {
    this.live.set(ex.id, ex);
    ex.channel = this;
    if (ex.upgrade) this.exclusive = true;
    const inst = this.instance;
    if (++inst.busy > inst.peakBusy) inst.peakBusy = inst.busy;
  }

  detach(ex: Exchange): void {
    if (this.live.get(ex.id) !== ex) return;
    this.live.delete(ex.id);
    ex.channel = null;
    if (ex.upgrade) this.exclusive = false;
    if (this.tunnel && ex.upgrade) {
      this.tunnel = false;
      this.instance.sockets--;
    } else {
      this.instance.busy--;
    }
  }

  /**
   * Its request was answered 101: from now on it counts as one of its instance's sockets, not
   * one of its requests at once, which stay free for HTTP (MaxSocketsPerInstance bounds these).
   */
  becomeTunnel(ex: Exchange): void {
    if (this.tunnel || !ex.upgrade || this.live.get(ex.id) !== ex) return;
    this.tunnel = true;
    this.instance.busy--;
    this.instance.sockets++;
  }
}

export class Instance {
  state: InstanceState = 'starting';
  readonly channels = new Set<Channel>();
  /** Channels with no request, ready for the next one. */
  readonly idle: Channel[] = [];
  /** Busy channels carrying a request; changed by Channel.attach/detach/becomeTunnel only. */
  busy = 0;
  /** Channels held by a tunnel (an upgraded request: a WebSocket); changed by Channel only. */
  sockets = 0;
  /** Its extension relays protocol upgrades (it named the `upgrade` feature). */
  acceptsUpgrade = false;
  /** The most it had busy since its last load report (what a raise of its limit is earned by). */
  peakBusy = 0;
  /** How many requests it is given at once, learned from its load reports (concurrency.ts). */
  readonly concurrency: ConcurrencyLimit;
  invokeEnded = false;
  /** How its invoke ended, once it has (a container worker has none). */
  outcome: InvokeOutcome | null = null;
  openedAt = 0;
  lastBusyAt: number;
  /** Why it left service, for the status page and logs. */
  closeReason = '';
  /** It asked to leave (deadline) and keeps serving until its replacement opens. */
  leavingSince = 0;
  /** The instance this one was started to replace; drained once this one opens. */
  replaces: Instance | null = null;
  /** What logs and the access log call it: enough of the id to tell instances apart, never the token. */
  readonly shortId: string;
  /** Its environment said this invocation is its first (a cold start); false when unknown. */
  coldStart = false;
  /** Its extension holds as many channels as it is told (CHANNELS frames): they follow the limit. */
  followsLimit = false;
  /** The channels it was last told (or, at the start, invoked) to hold. */
  channelTarget = 0;

  constructor(
    readonly id: string,
    readonly token: Buffer,
    readonly maxConcurrent: number,
    readonly startedAt: number,
    readonly kind: InstanceKind = 'lambda',
    /** Bounds of its learned limit; absent, fixed at maxConcurrent (a container worker says its own). */
    limits: LimitSettings = { min: maxConcurrent, max: maxConcurrent, initial: maxConcurrent },
  ) {
    this.lastBusyAt = startedAt;
    this.concurrency = new ConcurrencyLimit(limits);
    this.shortId = kind === 'lambda' ? id.slice(0, 8) : id;
  }

  /** Requests this instance is serving now. */
  get outstanding(): number {
    return this.busy;
  }

  /** The multiplexed channel HTTP requests go to (the lowest-numbered free one), when it has one. */
  private lane: Channel | null = null;

  /** Can take one more request now (an upgrade: on a channel of its own). */
  available(upgrade = false): boolean {
    if (this.state !== 'open' || this.busy >= this.concurrency.limit) return false;
    return this.idle.length > 0 || (!upgrade && this.muxChannel() !== undefined);
  }

  /**
   * Every HTTP request goes to one multiplexed channel while it is free, so that what the router
   * sends in one turn leaves in one write and the answers come back batched; the others are spares
   * (a tunnel takes one of its own; they take over when that one goes).
   */
  private muxChannel(): Channel | undefined {
    const cached = this.lane;
    if (cached !== null && cached.free && this.channels.has(cached)) return cached;
    this.lane = null;
    for (const ch of this.channels) {
      if (ch.multiplexed && ch.free && (this.lane === null || ch.index < this.lane.index)) this.lane = ch;
    }
    return this.lane ?? undefined;
  }

  /** Serves nothing at all: no request and no socket. */
  get unused(): boolean {
    return this.busy === 0 && this.sockets === 0;
  }

  /** Counts as capacity: a Lambda starting or open, and not on its way out. */
  get active(): boolean {
    return this.kind === 'lambda' && (this.state === 'starting' || this.state === 'open') && this.leavingSince === 0;
  }

  /** A channel for the next request: the multiplexed one, else an idle one (always, for an upgrade). */
  take(upgrade = false): Channel | undefined {
    if (!upgrade) {
      const lane = this.muxChannel();
      if (lane !== undefined) return lane;
    }
    while (this.idle.length > 0) {
      const ch = this.idle.pop()!;
      if (this.channels.has(ch) && ch.free && ch.count === 0) return ch;
    }
    return undefined;
  }
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** One client request as the dispatcher sees it, from REQ_HEAD to its terminal record. */
export class Exchange {
  state: ExchangeState = 'pending';
  /** In the pending queue (the queue's own mark, so removal needs no search when absent). */
  queued = false;
  /** Set by Channel.attach/detach. */
  channel: Channel | null = null;
  /** Body chunks that arrived before a channel was assigned (bounded by the request window). */
  buffered: Uint8Array[] = [];
  /** REQ_END (or a head flagged END) has arrived. */
  requestEnded: boolean;
  /** Response bytes relayed to ingress and not yet credited back. */
  responseOutstanding = 0;
  /** What the response head promised, and the body bytes the peer has sent against it. */
  responseBody: BodyLength = { kind: 'any' };
  responseBytes = 0;
  /** When the client went away (REQ_ABORT sent to the peer); 0 while it is still there. */
  abortedAt = 0;
  /** Ingress no longer listens for this slot (terminal record written). */
  detached = false;
  assignedAt = 0;
  /** When the response head came (0: not yet). */
  firstByteAt = 0;
  /** The instance it was last assigned to (its short id). */
  servedBy = '';
  /** Times it was put back in the queue after its instance died before answering. */
  retries = 0;
  /** The instances it was lost on: their other channels are likely going down too, so not there again. */
  readonly failedOn = new Set<Instance>();
  /** The instance it was last lost on, and when: its invoke's outcome decides whether it goes again. */
  lostOn: Instance | null = null;
  lostAt = 0;
  /** It was lost with a channel that had stopped answering pings (the host's fault, not the app's). */
  lostSilent = false;
  /** Safe to send again: idempotent method and no body (so nothing of it was consumed). */
  readonly retryable: boolean;
  /** The client asked to switch protocols (FLAG_UPGRADE): a 101 makes it a tunnel. */
  upgrade = false;
  /** Its bodies are paced by CREDIT frames (it went to a multiplexed channel and is not an upgrade). */
  windowed = false;
  /** Request body bytes it may still send the extension (windowed only); `buffered` holds the rest. */
  sendCredit = 0;
  /** Response bytes its client took and the extension was not yet credited with (windowed only). */
  creditOwed = 0;

  constructor(
    /** Request id on the wire; unique per router so a late frame never matches a newer request. */
    readonly id: number,
    readonly slot: number,
    readonly method: string,
    /** The ring's REQ_HEAD payload: [flags][head section][inline body]. */
    readonly head: Uint8Array,
    readonly arrivedAt: number,
    hasNoBody: boolean,
  ) {
    this.requestEnded = hasNoBody;
    this.retryable = hasNoBody && IDEMPOTENT.has(method);
  }

  /** What ingress is told of it with its terminal record (metrics, access log), at `now`. */
  report(now: number): RequestReport {
    const assigned = this.assignedAt > 0;
    return {
      queueUs: toMicros((assigned ? this.assignedAt : now) - this.arrivedAt),
      firstByteUs: toMicros(assigned && this.firstByteAt > 0 ? this.firstByteAt - this.assignedAt : undefined),
      upstreamUs: toMicros(assigned ? now - this.assignedAt : undefined),
      retries: this.retries,
      instance: this.servedBy,
    };
  }
}
