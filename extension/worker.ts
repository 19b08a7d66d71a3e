// Container worker mode (docs/ARCHITECTURE.md, "The extension"): the same app and the same channels as in Lambda, run as a
// long-lived process that registers with the router as permanent capacity. The router fills
// workers before it starts Lambda instances.
//
// Each channel introduces itself with `authorization: Bearer <shared secret>`, the worker id
// (stable for the process), its index and the worker's maxConcurrent. There is no deadline: a
// channel closed by GOAWAY (the router is shutting down) or lost is reopened with backoff (100 ms
// doubling to 5 s, jittered) until the router is back. stop() asks the router to stop sending
// (CLOSE_REQUEST "shutdown"), lets in-flight requests finish, then closes.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CHANNEL_HEADER, FEATURES_HEADER, FUNCTION_HEADER, MAX_CONCURRENT_HEADER, WORKER_HEADER } from '../core/protocol.ts';
import { FUNCTION_NAME } from '../core/routing/route-table.ts';
import { Backoff } from '../core/backoff.ts';
import { CERT_SHA256_TEXT } from '../core/cert-pin.ts';
import { appTarget } from './app/kinds.ts';
import { appRegistry } from './app/registry.ts';
import type { AppTarget } from './app/target.ts';
import { Capacity } from './capacity.ts';
import type { AppCall } from './app-call.ts';
import { LoadReporter } from './load-reporter.ts';
import { RequestLog } from './request-log.ts';
import { ChannelClient, type ChannelHost } from './channel-client.ts';
import { resolveOptions, type App, type ExtensionOptions, type ResolvedOptions } from './types.ts';

export interface WorkerOptions extends ExtensionOptions {
  /** The router's control port, e.g. `wss://router.internal:5003`. */
  routerUrl: string;
  /**
   * Required for a wss:// routerUrl: the SHA-256 of the router's certificate (64 hex digits, as
   * the router logs it at start). Any other certificate is refused before the secret is sent. A
   * router that generates its certificate gets a new one at each start, so a router with workers
   * is given its certificate (LAMBDA_DISPATCH_TlsCertFile / TlsKeyFile) to keep the pin stable.
   */
  routerCertSha256?: string;
  /** The router's `LAMBDA_DISPATCH_WorkerSecret`. */
  secret: string;
  /** Requests served at once. Default 10. */
  maxConcurrent?: number;
  /** Channels kept open (≥ maxConcurrent; extras are spares). Default maxConcurrent. */
  channels?: number;
  /** Default `<hostname>-<pid>-<random>`. */
  workerId?: string;
  /**
   * The function whose app this is, by its name in the router's LAMBDA_DISPATCH_Routes. Default: the
   * router's first function (the only one of a router without routes).
   */
  functionName?: string;
  /** First reconnect delay. Default 100. */
  backoffInitialMs?: number;
  /** Longest reconnect delay. Default 5000. */
  backoffMaxMs?: number;
}

export interface WorkerStatus {
  workerId: string;
  /** Channels open now. */
  open: number;
  inFlight: number;
  /** Requests accepted since the start. */
  requests: number;
  /** Times a channel opened (the first opens included). */
  connects: number;
}

const STATUS_HINT: Record<number, string> = {
  401: 'the router refused the worker secret (check LAMBDA_DISPATCH_WorkerSecret on both sides)',
  503: 'the router does not accept container workers (set LAMBDA_DISPATCH_WorkerSecret on the router)',
};

export class Worker implements ChannelHost {
  readonly options: ResolvedOptions;
  private readonly requestLog: RequestLog;
  private reporter: LoadReporter | undefined;
  readonly workerId: string;
  private readonly channels: (ChannelClient | null)[];
  /** Reconnect pacing, per channel index. */
  private readonly backoffs: Backoff[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly maxConcurrent: number;
  private readonly capacity: Capacity;
  private connects = 0;
  private stopping = false;
  private lastProblem: string | null = null;
  private stopWatchingApp: () => void = () => {};
  private allClosed: (() => void) | null = null;
  /** Resolves when the app process (if the worker started one) has exited. */
  readonly appExited: Promise<string>;
  private resolveAppExited: (why: string) => void = () => {};

  private constructor(
    readonly target: AppTarget,
    private readonly o: WorkerOptions,
  ) {
    this.options = resolveOptions(o);
    if (o.functionName !== undefined && !FUNCTION_NAME.test(o.functionName)) {
      throw new RangeError(`lambda-dispatch worker: functionName must be a function's name in the router's routes (letters, digits, _ and -, 1–64), got ${JSON.stringify(o.functionName)}`);
    }
    if (!/^wss?:\/\//.test(o.routerUrl)) throw new RangeError(`lambda-dispatch worker: the router URL must be ws:// or wss://, got "${o.routerUrl}"`);
    if (/^wss:/i.test(o.routerUrl) && (typeof o.routerCertSha256 !== 'string' || !CERT_SHA256_TEXT.test(o.routerCertSha256))) {
      throw new RangeError(
        `lambda-dispatch worker: a wss:// router URL needs the router's certificate pin (routerCertSha256, LAMBDA_DISPATCH_RouterCertSha256: 64 lower-case hex digits), got ${o.routerCertSha256 === undefined ? 'none' : JSON.stringify(o.routerCertSha256)}`,
      );
    }
    if (typeof o.secret !== 'string' || o.secret === '') throw new RangeError('lambda-dispatch worker: the worker secret (LAMBDA_DISPATCH_WorkerSecret) is required');
    this.maxConcurrent = o.maxConcurrent ?? 10;
    const channels = o.channels ?? this.maxConcurrent;
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 1) throw new RangeError(`lambda-dispatch worker: maxConcurrent must be an integer ≥ 1, got ${this.maxConcurrent}`);
    if (!Number.isInteger(channels) || channels < this.maxConcurrent) throw new RangeError(`lambda-dispatch worker: channels must be an integer ≥ maxConcurrent (${this.maxConcurrent}), got ${channels}`);
    this.workerId = o.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.requestLog = new RequestLog(this.options.logger(), this.options.accessLogSample).with({ worker: this.workerId });
    this.channels = new Array<ChannelClient | null>(channels).fill(null);
    const initial = o.backoffInitialMs ?? 100;
    const max = o.backoffMaxMs ?? 5000;
    this.backoffs = Array.from({ length: channels }, () => new Backoff(initial, max));
    this.capacity = new Capacity(this.maxConcurrent);
    this.appExited = new Promise((r) => (this.resolveAppExited = r));
  }

  /** Waits for the app to be ready (starting its command, if any), then opens the channels. */
  static async start(app: App, o: WorkerOptions): Promise<Worker> {
    const resolved = resolveOptions(o);
    const w = new Worker(appTarget(app, resolved, appRegistry()), o);
    const budget = resolved.asyncInit ? resolved.asyncInitTimeoutMs : resolved.healthTimeoutMs;
    await w.target.ready(budget);
    w.stopWatchingApp = w.target.onExit((why) => {
      w.options.log(`lambda-dispatch worker: ${why}`);
      w.resolveAppExited(why);
    });
    for (let i = 0; i < w.channels.length; i++) w.connect(i);
    // As an invocation does: the router learns how many requests this worker takes at once.
    w.reporter = new LoadReporter((load) => w.channels.some((ch) => ch?.sendLoad(load) ?? false), () => w.capacity.requests);
    return w;
  }

  status(): WorkerStatus {
    return {
      workerId: this.workerId,
      open: this.channels.filter((c) => c !== null && c.wasOpened && c.end === null).length,
      inFlight: this.capacity.inFlight,
      requests: this.capacity.requests,
      connects: this.connects,
    };
  }

  /**
   * Sends CLOSE_REQUEST "shutdown", closes its WebSockets with 1001, closes each channel once its request has finished, and
   * resolves when all are closed; after `graceMs` whatever is still running is dropped.
   */
  async stop(graceMs = 20_000): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.reporter?.stop();
      this.stopWatchingApp();
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      for (const ch of this.channels) {
        ch?.sendCloseRequest('shutdown');
        // Its WebSockets end here: 1001, going away, between two frames.
        ch?.closeTunnel(1001);
        ch?.retire();
      }
    }
    if (this.live() === 0) return;
    const closed = new Promise<void>((r) => (this.allClosed = r));
    const force = setTimeout(() => {
      for (const ch of this.channels) ch?.stop();
    }, graceMs);
    await closed;
    clearTimeout(force);
  }

  private live(): number {
    return this.channels.filter((c) => c !== null && c.end === null).length;
  }

  private connect(index: number): void {
    const headers = {
      authorization: `Bearer ${this.o.secret}`,
      [WORKER_HEADER]: this.workerId,
      // A worker takes upgrades and multiplexed channels; it has no invoke to size its channels, so
      // it does not follow CHANNELS.
      [FEATURES_HEADER]: 'upgrade, mux',
      [CHANNEL_HEADER]: String(index),
      [MAX_CONCURRENT_HEADER]: String(this.maxConcurrent),
      ...(this.o.functionName !== undefined ? { [FUNCTION_HEADER]: this.o.functionName } : {}),
    };
    const pin = /^wss:/i.test(this.o.routerUrl) ? this.o.routerCertSha256 : undefined;
    this.channels[index] = new ChannelClient(index, this.o.routerUrl.replace(/\/+$/, ''), headers, this.options.connectTimeoutMs, this, pin);
  }

  // ── ChannelHost ────────────────────────────────────────────────────────────────────────────

  acquire(): boolean {
    return this.capacity.acquire();
  }

  requestEnded(call: AppCall, error: string | null): void {
    this.requestLog.write(call, error, call.aborted);
  }

  release(): void {
    this.capacity.release();
  }

  opened(ch: ChannelClient): void {
    if (this.o.functionName !== undefined && !ch.features.has('function')) {
      // A router that does not know the header would make this worker serve its first function's
      // requests with this app: closed before any request arrives, and retried (an upgrade may come).
      this.report(`the router at ${this.o.routerUrl} does not honour a function name (it announced no \`function\` feature: older than this worker); not serving its first function's requests in place of ${this.o.functionName}'s`);
      ch.stop();
      return;
    }
    this.connects++;
    this.backoffs[ch.index]!.succeeded();
    if (this.lastProblem !== null) {
      this.options.log(`lambda-dispatch worker ${this.workerId}: connected to ${this.o.routerUrl} again`);
      this.lastProblem = null;
    }
    if (this.stopping) {
      ch.sendCloseRequest('shutdown');
      ch.retire();
    }
  }

  appGone(err: Error): void {
    this.report(`the app could not be reached: ${err.message}`);
  }

  closed(ch: ChannelClient): void {
    if (this.channels[ch.index] !== ch) return;
    if (this.stopping) {
      if (this.live() === 0) this.allClosed?.();
      return;
    }
    if (ch.end === 'refused') {
      const status = ch.refusedStatus;
      // Retrying is safe: nothing is ever sent to a certificate that is not the pinned one.
      this.report(
        ch.pinMismatch
          ? `${ch.connectError ?? 'certificate pin mismatch'} (check LAMBDA_DISPATCH_RouterCertSha256 against the fingerprint the router logs at start)`
          : status === 404 && this.o.functionName !== undefined
          ? `the router routes to no function named ${JSON.stringify(this.o.functionName)} (check functionName / --function against its LAMBDA_DISPATCH_Routes): ${ch.connectError ?? status}`
          : status !== null && STATUS_HINT[status] !== undefined
          ? `${STATUS_HINT[status]}: ${ch.connectError ?? status}`
          : `cannot connect to ${this.o.routerUrl}: ${ch.connectError ?? 'closed during the handshake'}`,
      );
    } else if (ch.end === 'lost') {
      this.report(`connection to ${this.o.routerUrl} lost; reconnecting`);
    }
    // GOAWAY (the router is going away), lost or refused: try again, with backoff.
    const delay = this.backoffs[ch.index]!.failed(Date.now());
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopping) this.connect(ch.index);
    }, delay);
    this.timers.add(timer);
  }

  /** Logs a problem once, not once per channel and attempt. */
  private report(problem: string): void {
    if (problem === this.lastProblem) return;
    this.lastProblem = problem;
    this.options.log(`lambda-dispatch worker ${this.workerId}: ${problem}`);
  }
}

/** Starts a container worker serving `app` (see WorkerOptions). */
export function startWorker(app: App, options: WorkerOptions): Promise<Worker> {
  return Worker.start(app, options);
}
