// The life of one invocation: get the app ready, open the channels, serve until the router says
// GOAWAY (or goes away, or the deadline comes), return the result. Never runs past the deadline:
// at `remaining - margin` it sends CLOSE_REQUEST and keeps serving what still comes, and at
// `remaining - hardStopMarginMs` it drops everything and returns.

import type { AppTarget } from './app-target.ts';
import { Channel, type ChannelHost } from './channel.ts';
import type { ExitReason, InvocationResult, InvokePayload, LambdaContext, ResolvedOptions } from './types.ts';

export class Invocation implements ChannelHost {
  private readonly channels: Channel[] = [];
  private inFlight = 0;
  private requests = 0;
  private closedChannels = 0;
  /** Why this instance asked the router to let it go (CLOSE_REQUEST sent), if it did. */
  private leaving: 'deadline' | 'app-failed' | null = null;
  private appError: string | null = null;
  private ended = false;
  private resolveEnd: (r: ExitReason) => void = () => {};

  constructor(
    private readonly payload: InvokePayload,
    private readonly context: LambdaContext,
    readonly target: AppTarget,
    readonly options: ResolvedOptions,
  ) {}

  async run(): Promise<InvocationResult> {
    const t0 = performance.now();
    const elapsed = () => performance.now() - t0;
    const remaining = this.context.getRemainingTimeInMillis();
    const margin = this.options.deadlineMarginMs ?? Math.min(5000, 0.2 * remaining);
    const hardStopIn = remaining - this.options.hardStopMarginMs;
    const softIn = Math.min(remaining - margin, hardStopIn);
    const result = (exitReason: ExitReason, error?: string): InvocationResult => ({
      instanceId: this.payload.instanceId,
      requests: this.requests,
      durationMs: Math.round(elapsed()),
      exitReason,
      ...(error !== undefined ? { error } : {}),
    });
    if (hardStopIn <= 0) return result('deadline', `only ${remaining} ms left at the start of the invocation`);

    // 1. The app, within the time there is.
    let hardTimer: NodeJS.Timeout | undefined;
    try {
      const healthBudget = Math.max(0, Math.min(this.options.healthTimeoutMs, hardStopIn));
      await Promise.race([
        this.target.ready(healthBudget),
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

    // 2. The channels, until they have all closed or the hard stop.
    const ended = new Promise<ExitReason>((resolve) => {
      this.resolveEnd = resolve;
    });
    const softTimer = setTimeout(() => this.leave('deadline'), Math.max(0, softIn - elapsed()));
    hardTimer = setTimeout(() => this.hardStop(), Math.max(0, hardStopIn - elapsed()));
    const handshakeMs = Math.min(this.options.connectTimeoutMs, Math.max(1, hardStopIn - elapsed()));
    const { routerUrl, instanceId, token } = this.payload;
    for (let i = 0; i < this.payload.channels; i++) {
      this.channels.push(new Channel(i, routerUrl, instanceId, token, handshakeMs, this));
    }
    const exitReason = await ended;
    clearTimeout(softTimer);
    clearTimeout(hardTimer);
    let error: string | undefined;
    if (exitReason === 'connect-failed') {
      const first = this.channels.find((c) => c.connectError !== null)?.connectError ?? 'closed during the handshake';
      error = `no channel could open to ${routerUrl}: ${first}`;
      this.options.log(`lambda-dispatch: instance ${instanceId}: ${error}`);
    } else if (exitReason === 'app-failed' && this.appError !== null) {
      error = this.appError;
    }
    return result(exitReason, error);
  }

  // ── ChannelHost ────────────────────────────────────────────────────────────────────────────

  acquire(): boolean {
    if (this.inFlight >= this.payload.maxConcurrent) return false;
    this.inFlight++;
    this.requests++;
    return true;
  }

  release(): void {
    this.inFlight--;
  }

  opened(ch: Channel): void {
    if (this.leaving !== null) ch.sendCloseRequest(this.leaving);
  }

  closed(_ch: Channel): void {
    this.closedChannels++;
    if (this.closedChannels < this.channels.length) return;
    // Every channel has closed: the instance is done.
    let reason: ExitReason;
    if (!this.channels.some((c) => c.wasOpened)) reason = 'connect-failed';
    else if (this.leaving !== null) reason = this.leaving;
    else if (this.channels.some((c) => c.end === 'goaway')) reason = 'goaway';
    else reason = 'router-lost';
    this.end(reason);
  }

  appGone(err: Error): void {
    if (this.appError !== null) return;
    this.appError = `the app stopped accepting connections: ${err.message}`;
    this.options.log(`lambda-dispatch: instance ${this.payload.instanceId}: ${this.appError}`);
    this.leave('app-failed');
  }

  // ── leaving ────────────────────────────────────────────────────────────────────────────────

  /** CLOSE_REQUEST on every open channel; the router answers GOAWAY once it can let us go. */
  private leave(why: 'deadline' | 'app-failed'): void {
    if (this.ended) return;
    // The deadline wins: it decides how the invocation ends whatever else happened.
    if (this.leaving === null || why === 'deadline') this.leaving = why;
    for (const ch of this.channels) ch.sendCloseRequest(why);
  }

  private hardStop(): void {
    if (this.ended) return;
    this.leaving = 'deadline';
    for (const ch of this.channels) ch.stop();
    this.end('deadline');
  }

  private end(reason: ExitReason): void {
    if (this.ended) return;
    this.ended = true;
    this.resolveEnd(reason);
  }
}
