// The launcher: how instances are started. It sends the invokes (one per instance, plus pre-warm
// ones), paces them (a token bucket bounds the rate, consecutive failures push the next start out
// with jittered backoff) and counts how they end, so a function that cannot reach the router costs
// a handful of invokes a minute, not a tight loop. Which instances to start is the fleet's call.

import { randomBytes, randomUUID } from 'node:crypto';
import { Backoff, TokenBucket } from '../backoff.ts';
import type { InvokeFailureKind, InvokeOutcome, InvokePayload } from './invoker.ts';

export interface Invoke {
  (payload: InvokePayload): Promise<InvokeOutcome>;
}

export interface LaunchSettings {
  /** Where the extension calls back, e.g. `wss://10.0.0.5:5003`. */
  routerUrl: string;
  /** The control port certificate's pin, for a wss:// routerUrl (core/cert-pin.ts). */
  certSha256?: string | undefined;
  channelCount: number;
  maxConcurrentCount: number;
  minInstances: number;
}

export interface InvokeCounts {
  started: number;
  failed: number;
  failuresByKind: Record<string, number>;
}

export interface Launch {
  id: string;
  token: string;
  /** Settles when the invoke returns, however it ends. */
  ended: Promise<InvokeOutcome>;
}

/** Consecutive starts that failed with a function error before waiting requests are answered (LD_FUNCTION_START_FAILED). */
export const FAILED_STARTS_BEFORE_ANSWER = 2;

export class Launcher {
  private readonly backoff = new Backoff(500, 30_000);
  /** Consecutive instances that ended with a function error before they opened a channel. */
  private failedStarts = 0;
  private readonly bucket: TokenBucket;
  readonly counts: InvokeCounts = { started: 0, failed: 0, failuresByKind: {} };

  constructor(
    private readonly o: LaunchSettings,
    private readonly invoke: Invoke,
    private readonly log: (msg: string) => void,
    now: number,
  ) {
    this.bucket = new TokenBucket(Math.max(10, o.minInstances), 20, now);
  }

  get consecutiveFailures(): number {
    return this.backoff.consecutiveFailures;
  }

  /** No failure backoff holds starts back now. */
  allows(now: number): boolean {
    return this.backoff.allows(now);
  }

  /** The backoff allows a start and the rate bound has a token for it (taken). */
  take(now: number): boolean {
    return this.backoff.allows(now) && this.bucket.take(now);
  }

  /** The earliest time a start is allowed again. */
  get nextStartAt(): number {
    return this.backoff.nextStartAt;
  }

  /** `openChannels`: how many channels the instance opens before the router asks for more or fewer. */
  launch(openChannels: number): Launch {
    const id = randomUUID();
    const token = randomBytes(32).toString('base64url');
    this.counts.started++;
    const ended = this.invoke({
      v: 1,
      routerUrl: this.o.routerUrl,
      ...this.pin(),
      instanceId: id,
      token,
      channels: this.o.channelCount,
      openChannels: Math.min(openChannels, this.o.channelCount),
      maxConcurrent: this.o.maxConcurrentCount,
    }).catch((err: Error): InvokeOutcome => ({ kind: 'error', name: err.name, message: err.message }));
    return { id, token, ended };
  }

  /** Initialises an environment ahead of need: the extension gets ready and returns at once. */
  prewarm(): void {
    this.counts.started++;
    void this.invoke({
      v: 1,
      routerUrl: this.o.routerUrl,
      ...this.pin(),
      instanceId: `prewarm-${randomUUID()}`,
      token: '',
      channels: 1,
      maxConcurrent: 1,
      initOnly: true,
    }).then((outcome) => {
      if (outcome.kind === 'returned') return;
      this.count(outcome.kind);
      this.log(`pre-warm invoke failed (${outcome.kind}: ${outcome.message})`);
    });
  }

  private pin(): { certSha256?: string } {
    return this.o.certSha256 !== undefined ? { certSha256: this.o.certSha256 } : {};
  }

  /** An instance opened its first channel: the function works, starts are no longer held back. */
  opened(): void {
    this.backoff.succeeded();
    this.failedStarts = 0;
  }

  /** The function keeps failing to start with a function error (its init fails), not for want of a network or capacity. */
  get failingToStart(): boolean {
    return this.failedStarts >= FAILED_STARTS_BEFORE_ANSWER;
  }

  /** An instance never opened a channel in time. */
  timedOut(now: number): void {
    this.backoff.failed(now);
  }

  /**
   * Classifies how an instance's invoke ended; a failure is counted and backs off the next start,
   * and is returned (with how long the next start waits) for the fleet to report.
   */
  ended(outcome: InvokeOutcome, everOpened: boolean, now: number): { failure: InvokeFailureKind; detail: string; nextStartInMs: number } | null {
    let failure: InvokeFailureKind | null = null;
    if (outcome.kind !== 'returned') failure = outcome.kind;
    else if (outcome.exitReason === 'connect-failed' || !everOpened) failure = 'connect-failed';
    if (failure === null) return null;
    this.count(failure);
    if (everOpened) this.failedStarts = 0;
    else this.failedStarts = failure === 'function-error' ? this.failedStarts + 1 : 0;
    const delay = this.backoff.failed(now);
    const detail =
      outcome.kind === 'returned' ? (outcome.error ?? outcome.exitReason) : outcome.kind === 'function-error' ? `${outcome.errorType}: ${outcome.message}` : outcome.message;
    return { failure, detail, nextStartInMs: delay };
  }

  private count(kind: InvokeFailureKind): void {
    this.counts.failed++;
    this.counts.failuresByKind[kind] = (this.counts.failuresByKind[kind] ?? 0) + 1;
  }
}
