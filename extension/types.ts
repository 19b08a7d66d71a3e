// The extension's public types: what the router sends in the invoke payload, what the handler
// returns, and the options of createHandler (DESIGN §4, §6).

import type { RequestListener } from 'node:http';

export type { ExitReason, InvocationResult, InvokePayload } from '../core/protocol.ts';
import type { InvocationResult, InvokePayload } from '../core/protocol.ts';

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

export type LambdaHandler = (event: unknown, context: LambdaContext) => Promise<InvocationResult>;

/** An app of any language listening on `host:port` (loopback by default). */
export interface PortApp {
  port: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Readiness probe, `GET` answering 200. Default `/health`. */
  healthPath?: string;
}

export type App = RequestListener | PortApp;

export interface ExtensionOptions {
  /**
   * Time before the invocation deadline at which CLOSE_REQUEST is sent. Default: env
   * `LAMBDA_DISPATCH_DeadlineMarginMs`, else min(5000, 20% of the remaining time at start).
   */
  deadlineMarginMs?: number;
  /** Everything is closed and the handler returns this long before the deadline. Default 250. */
  hardStopMarginMs?: number;
  /** `{ port }` apps: longest wait for the health probe to answer 200. Default 10000. */
  healthTimeoutMs?: number;
  /** `{ port }` apps: time between health probes. Default 10. */
  healthIntervalMs?: number;
  /** WebSocket opening handshake timeout. Default 5000 (and never past the hard stop). */
  connectTimeoutMs?: number;
  /** Pause the app's response while a channel has more than this many bytes unsent. Default 256 KiB. */
  highWaterMark?: number;
  /** Largest RES_BODY payload. Default 64 KiB. */
  maxChunkBytes?: number;
  /**
   * Response bytes already received with the head that ride inside RES_HEAD (one WebSocket message
   * for a small response instead of three). 0 disables. Default 64 KiB.
   */
  inlineBodyBytes?: number;
  /** Invocation-level problems (never one line per request). Default: console.error. */
  log?: (message: string) => void;
}

/** Options with every default resolved (except the deadline margin, which needs the context). */
export interface ResolvedOptions {
  deadlineMarginMs: number | undefined;
  hardStopMarginMs: number;
  healthTimeoutMs: number;
  healthIntervalMs: number;
  connectTimeoutMs: number;
  highWaterMark: number;
  maxChunkBytes: number;
  inlineBodyBytes: number;
  log: (message: string) => void;
}

function nonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`lambda-dispatch: option ${name} must be a non-negative number, got ${v}`);
  return v;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`lambda-dispatch: option ${name} must be a positive number, got ${v}`);
  return v;
}

export function resolveOptions(o: ExtensionOptions = {}, env: Record<string, string | undefined> = process.env): ResolvedOptions {
  let deadlineMarginMs = o.deadlineMarginMs;
  if (deadlineMarginMs === undefined) {
    const raw = env.LAMBDA_DISPATCH_DeadlineMarginMs;
    if (raw !== undefined && raw.trim() !== '') {
      const v = Number(raw);
      if (!Number.isFinite(v) || v < 0) {
        throw new RangeError(`LAMBDA_DISPATCH_DeadlineMarginMs must be a non-negative number of milliseconds, got "${raw}"`);
      }
      deadlineMarginMs = v;
    }
  } else {
    nonNegative('deadlineMarginMs', deadlineMarginMs, 0);
  }
  return {
    deadlineMarginMs,
    hardStopMarginMs: nonNegative('hardStopMarginMs', o.hardStopMarginMs, 250),
    healthTimeoutMs: nonNegative('healthTimeoutMs', o.healthTimeoutMs, 10_000),
    healthIntervalMs: positive('healthIntervalMs', o.healthIntervalMs, 10),
    connectTimeoutMs: positive('connectTimeoutMs', o.connectTimeoutMs, 5_000),
    highWaterMark: positive('highWaterMark', o.highWaterMark, 256 * 1024),
    maxChunkBytes: positive('maxChunkBytes', o.maxChunkBytes, 64 * 1024),
    inlineBodyBytes: nonNegative('inlineBodyBytes', o.inlineBodyBytes, 64 * 1024),
    log: o.log ?? ((m) => console.error(m)),
  };
}

/** Checks the invoke event; a malformed one is a caller bug and fails the invocation. */
export function parsePayload(event: unknown): InvokePayload {
  const e = event as Partial<Record<keyof InvokePayload, unknown>> | null;
  const bad = (why: string): never => {
    throw new TypeError(`lambda-dispatch: not a valid invoke payload: ${why}`);
  };
  if (e === null || typeof e !== 'object') return bad('expected an object');
  if (e.v !== 1) return bad(`unsupported version ${String(e.v)}`);
  if (typeof e.routerUrl !== 'string' || !/^wss?:\/\//.test(e.routerUrl)) return bad('routerUrl must be a ws:// or wss:// URL');
  if (typeof e.instanceId !== 'string' || e.instanceId === '') return bad('instanceId must be a non-empty string');
  if (typeof e.token !== 'string') return bad('token must be a string');
  if (!Number.isInteger(e.channels) || (e.channels as number) < 1 || (e.channels as number) > 10_000) return bad('channels must be an integer ≥ 1');
  if (!Number.isInteger(e.maxConcurrent) || (e.maxConcurrent as number) < 1) return bad('maxConcurrent must be an integer ≥ 1');
  return {
    v: 1,
    routerUrl: e.routerUrl.replace(/\/+$/, ''),
    instanceId: e.instanceId,
    token: e.token,
    channels: e.channels as number,
    maxConcurrent: e.maxConcurrent as number,
    sentAt: typeof e.sentAt === 'number' ? e.sentAt : 0,
    ...(typeof e.certSha256 === 'string' ? { certSha256: e.certSha256 } : {}),
    ...(e.initOnly === true ? { initOnly: true } : {}),
  };
}
