// The life of one invocation: get the app ready, open the channels, serve until the router says
// GOAWAY (or goes away, or the deadline comes), return the result. Never runs past the deadline:
// at `remaining - margin` it sends CLOSE_REQUEST and keeps serving what still comes, and at
// `remaining - hardStopMarginMs` it drops everything and returns. A channel lost without GOAWAY
// is reopened for up to `reconnectMs` (the router restarted, the network blipped); a router that
// no longer knows the instance (409) or is gone for longer ends the invocation with `router-lost`.
// An app process that exits ends it with `app-failed`.

import { CHANNEL_HEADER, COLD_START_HEADER, EXTENSION_FEATURES, FEATURES_HEADER, INSTANCE_HEADER } from '../core/protocol.ts';
import type { AppCall } from './app-call.ts';
import type { AppTarget } from './app/target.ts';
import { Capacity } from './capacity.ts';
import { ChannelClient, type ChannelHost } from './channel-client.ts';
import type { LoadReport } from '../core/frames.ts';
import { LoadReporter } from './load-reporter.ts';
import { RequestLog } from './request-log.ts';
import type { ExitReason, InvocationResult, LambdaContext, ParsedPayload, ResolvedOptions } from './types.ts';

export class Invocation implements ChannelHost {
  /** The live channel of each index (a reconnect replaces it); an index closed for good leaves. */
  private readonly channels = new Map<number, ChannelClient>();
  /** Indices 0 … wanted − 1 are held open: what the router asked for last (CHANNELS), at most `channels`. */
  private wanted: number;
  /** Channel reopenings and tunnel closes still to come. */
  private readonly timers = new Set<NodeJS.Timeout>();
  /** When each index was first lost, while it is being reopened. */
  private readonly lostSince = new Map<number, number>();
  private readonly capacity: Capacity;
  private everOpened = false;
  private sawGoaway = false;
  private firstConnectError: string | null = null;
  private hardStopAt = 0;
  private stopWatchingApp: () => void = () => {};
  /** Why this instance asked the router to let it go (CLOSE_REQUEST sent), if it did. */
  private leaving: 'deadline' | 'app-failed' | null = null;
  private appError: string | null = null;
  private ended = false;
  private resolveEnd: (r: ExitReason) => void = () => {};
  private readonly requestLog: RequestLog;

  constructor(
    private readonly payload: ParsedPayload,
    private readonly context: LambdaContext,
    readonly target: AppTarget,
    readonly options: ResolvedOptions,
    /** This invocation is its environment's first: the router counts it as a cold start. */
    private readonly coldStart = false,
  ) {
    this.capacity = new Capacity(payload.maxConcurrent);
    this.wanted = payload.openChannels ?? payload.channels;
    this.requestLog = new RequestLog(options.logger(), options.accessLogSample).with({ requestId: context.awsRequestId ?? '', instance: payload.instanceId.slice(0, 8) });
  }

  requestEnded(call: AppCall, error: string | null): void {
    this.requestLog.write(call, error, call.aborted);
  }

  async run(): Promise<InvocationResult> {
    const t0 = performance.now();
    const elapsed = () => performance.now() - t0;
    const remaining = this.context.getRemainingTimeInMillis();
    const margin = this.options.deadlineMarginMs ?? Math.min(5000, 0.2 * remaining);
    const hardStopIn = remaining - this.options.hardStopMarginMs;
    const softIn = Math.min(remaining - margin, hardStopIn);
    const result = (exitReason: ExitReason, error?: string): InvocationResult => ({
      instanceId: this.payload.instanceId,
      requests: this.capacity.requests,
      durationMs: Math.round(elapsed()),
      exitReason,
      ...(error !== undefined ? { error } : {}),
    });
    if (hardStopIn <= 0) return result('deadline', `only ${remaining} ms left at the start of the invocation`);

    // 1. The app, within the time there is.
    let hardTimer: NodeJS.Timeout | undefined;
    try {
      // The target bounds its own wait (healthTimeoutMs, or the async-init budget); this is the hard limit.
      await Promise.race([
        this.target.ready(Math.max(0, hardStopIn)),
        new Promise<never>((_, reject) => {
          hardTimer = setTimeout(() => reject(new Error(`the app was not ready before the invocation's deadline`)), hardStopIn);
        }),
      ]);
    } catch (err) {
      const message = (err as Error).message;
      this.options.log(`lambda-dispatch: instance ${this.payload.instanceId}: ${message}`);
      return result('app-failed', message);
    } finally {
      clearTimeout(hardTimer);
    }
    if (this.payload.initOnly) return result('init-only');
    this.stopWatchingApp = this.target.onExit((why) => this.appExited(why));

    // 2. The channels, until they have all closed or the hard stop.
    const ended = new Promise<ExitReason>((resolve) => {
      this.resolveEnd = resolve;
    });
    const softTimer = setTimeout(() => this.leave('deadline'), Math.max(0, softIn - elapsed()));
    hardTimer = setTimeout(() => this.hardStop(), Math.max(0, hardStopIn - elapsed()));
    this.hardStopAt = Date.now() + Math.max(0, hardStopIn - elapsed());
    const { routerUrl, instanceId } = this.payload;
    for (let i = 0; i < this.wanted; i++) this.channels.set(i, this.connect(i));
    // The router learns this instance's concurrency from these (on the first channel that takes one).
    const send = (load: LoadReport) => {
      for (const ch of this.channels.values()) if (ch.sendLoad(load)) return true;
      return false;
    };
    const reporter = new LoadReporter(send, () => this.capacity.requests);
    const exitReason = await ended;
    reporter.stop();
    clearTimeout(softTimer);
    clearTimeout(hardTimer);
    for (const t of this.timers) clearTimeout(t);
    this.stopWatchingApp();
    let error: string | undefined;
    if (exitReason === 'connect-failed') {
      error = `no channel could open to ${routerUrl}: ${this.firstConnectError ?? 'closed during the handshake'}`;
      this.options.log(`lambda-dispatch: instance ${instanceId}: ${error}`);
    } else if (exitReason === 'app-failed' && this.appError !== null) {
      error = this.appError;
    }
    return result(exitReason, error);
  }

  // ── ChannelHost ────────────────────────────────────────────────────────────────────────────

  acquire(): boolean {
    return this.capacity.acquire();
  }

  release(): void {
    this.capacity.release();
  }

  opened(ch: ChannelClient): void {
    this.everOpened = true;
    this.lostSince.delete(ch.index);
    if (this.leaving !== null) ch.sendCloseRequest(this.leaving);
  }

  goaway(): void {
    this.sawGoaway = true;
  }

  isLeaving(): boolean {
    return this.leaving === 'deadline';
  }

  /**
   * The router asked for `count` channels as the instance's limit moved: open those missing, and
   * close those numbered beyond once idle (the router gives them no new request already).
   */
  holdChannels(count: number): void {
    if (this.ended || this.leaving !== null || this.sawGoaway) return;
    this.wanted = Math.min(count, this.payload.channels);
    for (const [index, ch] of this.channels) if (index >= this.wanted) ch.retire();
    for (let i = 0; i < this.wanted; i++) if (!this.channels.has(i)) this.channels.set(i, this.connect(i));
  }

  closed(ch: ChannelClient): void {
    if (this.ended || this.channels.get(ch.index) !== ch) return;
    if (ch.connectError !== null) this.firstConnectError ??= ch.connectError;
    if (this.shouldReconnect(ch)) return;
    this.forget(ch.index, ch.end === 'retired');
  }

  /**
   * A channel closed for good. One retired because the router asked for fewer is opened again if
   * it asked for more while it was closing; the instance is done once none is left.
   */
  private forget(index: number, retired: boolean): void {
    this.channels.delete(index);
    const following = retired && this.leaving === null && !this.sawGoaway;
    if (following && index < this.wanted) this.channels.set(index, this.connect(index));
    if (this.channels.size > 0) return;
    // Every channel has closed: the instance is done.
    let reason: ExitReason;
    if (!this.everOpened) reason = 'connect-failed';
    else if (this.leaving !== null) reason = this.leaving;
    else if (this.sawGoaway) reason = 'goaway';
    else reason = 'router-lost';
    this.end(reason);
  }

  private connect(index: number): ChannelClient {
    const handshakeMs = Math.min(this.options.connectTimeoutMs, Math.max(1, this.hardStopAt - Date.now()));
    const headers = {
      authorization: `Bearer ${this.payload.token}`,
      [INSTANCE_HEADER]: this.payload.instanceId,
      [CHANNEL_HEADER]: String(index),
      [FEATURES_HEADER]: EXTENSION_FEATURES.join(', '),
      ...(this.coldStart ? { [COLD_START_HEADER]: '1' } : {}),
    };
    return new ChannelClient(index, this.payload.routerUrl, headers, handshakeMs, this, this.payload.certSha256);
  }

  /**
   * A channel that had opened (or is being reopened) and was lost without GOAWAY while the
   * instance is not leaving: reopen it after a short pause, within the reconnect window. A refusal
   * (the router does not know the instance any more) is final.
   */
  private shouldReconnect(ch: ChannelClient): boolean {
    if (this.leaving !== null || this.sawGoaway || this.options.reconnectMs <= 0) return false;
    const reopening = this.lostSince.has(ch.index);
    // Another certificate where the router was is not a blip: the token must not go there.
    const lost = ch.end === 'lost' || (reopening && ch.end === 'refused' && ch.refusedStatus === null && !ch.pinMismatch);
    if (!lost) {
      this.lostSince.delete(ch.index);
      return false;
    }
    const since = this.lostSince.get(ch.index) ?? Date.now();
    this.lostSince.set(ch.index, since);
    const attempt = Math.min(500, 50 * 2 ** Math.min(4, Math.floor((Date.now() - since) / 200)));
    if (Date.now() + attempt - since > this.options.reconnectMs || Date.now() + attempt >= this.hardStopAt) return false;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.ended) return;
      if (ch.index < this.wanted) this.channels.set(ch.index, this.connect(ch.index));
      else this.forget(ch.index, false); // the router asked for fewer meanwhile
    }, attempt);
    this.timers.add(timer);
    return true;
  }

  /** The app's process exited: nothing can be served any more. */
  private appExited(why: string): void {
    if (this.ended) return;
    this.appError ??= why;
    this.options.log(`lambda-dispatch: instance ${this.payload.instanceId}: ${why}`);
    this.leave('app-failed');
    for (const ch of this.channels.values()) ch.retire();
  }

  appGone(err: Error): void {
    if (this.appError !== null) return;
    this.appError = `the app stopped accepting connections: ${err.message}`;
    this.options.log(`lambda-dispatch: instance ${this.payload.instanceId}: ${this.appError}`);
    this.leave('app-failed');
  }

  // ── leaving ────────────────────────────────────────────────────────────────────────────────

  /**
   * CLOSE_REQUEST on every open channel; the router answers GOAWAY once it can let us go. Open
   * tunnels (WebSockets) are closed with 1012, each at a random moment in the first half of the
   * time left before the hard stop: their clients reconnect to the replacement spread out, not
   * all at once.
   */
  private leave(why: 'deadline' | 'app-failed'): void {
    if (this.ended) return;
    // The deadline wins: it decides how the invocation ends whatever else happened.
    const first = this.leaving === null;
    if (first || why === 'deadline') this.leaving = why;
    for (const ch of this.channels.values()) ch.sendCloseRequest(why);
    if (!first) return;
    const spreadMs = Math.max(0, (this.hardStopAt - Date.now()) / 2);
    for (const ch of this.channels.values()) {
      if (!ch.busy) continue;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        ch.closeTunnel(1012);
      }, Math.random() * spreadMs);
      this.timers.add(timer);
    }
  }

  private hardStop(): void {
    if (this.ended) return;
    this.leaving = 'deadline';
    this.end('deadline');
    for (const ch of this.channels.values()) ch.stop();
  }

  private end(reason: ExitReason): void {
    if (this.ended) return;
    this.ended = true;
    this.resolveEnd(reason);
  }
}
