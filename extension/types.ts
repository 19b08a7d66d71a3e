// The extension's public types: what the router sends in the invoke payload, what the handler
// returns, and the options of createHandler (docs/PROTOCOL.md and docs/ARCHITECTURE.md, "The extension").

import type { RequestListener, Server } from 'node:http';

export type { ExitReason, InvocationResult, InvokePayload } from '../core/protocol.ts';
import type { InvocationResult, InvokePayload } from '../core/protocol.ts';
import { CERT_SHA256_TEXT } from '../core/cert-pin.ts';
import { extensionLogger, type Logger } from './request-log.ts';
import { boolean, decimal, envReader, milliseconds, oneOf, option, port, statusList, urlPath, type Checker, type StatusRanges } from '../core/settings/env.ts';

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
  invokedFunctionArn?: string;
}

/** What a plain Lambda HTTP event (Function URL, API Gateway v1/v2, ALB) gets back. */
export interface HttpEventResult {
  statusCode: number;
  statusDescription?: string;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
}

/** Resolves to an InvocationResult (router payload), an HttpEventResult (HTTP event) or the app's answer to any other event. */
export type LambdaHandler = (event: unknown, context: LambdaContext) => Promise<InvocationResult | HttpEventResult | unknown>;

/** A Lambda HTTP event (Function URL / API Gateway payload 2.0 or 1.0, ALB): all carry a requestContext. */
export interface HttpEvent {
  requestContext: object;
  [key: string]: unknown;
}

/** The handler createHandler returns. */
export interface DispatchHandler {
  (event: HttpEvent, context: LambdaContext): Promise<HttpEventResult>;
  /** The router's payload (told apart by its `routerUrl`). */
  (event: { routerUrl: string }, context: LambdaContext): Promise<InvocationResult>;
  /** Any other event (SQS, SNS, S3, EventBridge…): the app's answer at the pass-through path. */
  (event: unknown, context: LambdaContext): Promise<unknown>;
  /**
   * Starts the app (its `command`, if any) and waits until it is ready, for at most `initTimeoutMs`
   * — call it at the top level of the handler module (`export const handler = await
   * createHandler(app).init()`) so that it runs in Lambda's init phase. When the app is not ready
   * in time it rejects with a clear error (the init fails), unless async init is on: then it
   * resolves and the first invocations keep waiting, until `asyncInitTimeoutMs` after the start.
   */
  init(): Promise<DispatchHandler>;
}

/** An app of any language listening on `host:port` (loopback by default). */
export interface PortApp {
  /** Default: env `LAMBDA_DISPATCH_PORT`, else 3001. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Readiness probe, `GET` answering 200 (see `healthyStatus`, `readinessProtocol`). Default: env `LAMBDA_DISPATCH_HEALTH_PATH`, else `/health`. */
  healthPath?: string;
  /**
   * A shell command that starts the app (`PORT` is set in its environment). Started once per
   * execution environment (or worker process), stdout and stderr passed through, never
   * restarted: an app that exits ends the invocation with exit reason `app-failed`.
   */
  command?: string;
  /** Working directory of `command`. Default: the current one. */
  cwd?: string;
}

/** A fetch handler, as Hono and the WinterCG frameworks export it. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * A Node request listener (declares two or more parameters: `(req, res)`, Express's
 * `(req, res, next)`), a fetch handler (declares one: `(request)`), an object with a `fetch`
 * method (a Hono app, `{ fetch }`), or `{ port }` for an app listening on its own.
 */
export type App = RequestListener | Server | FetchHandler | { fetch: FetchHandler } | PortApp;

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
  /**
   * gzip responses when the client accepts gzip, the type is textual and the body is over 1 KiB or
   * of unknown length. Default: env `LAMBDA_DISPATCH_ENABLE_COMPRESSION`, else true.
   */
  compression?: boolean;
  /** `init()`: longest wait for readiness inside Lambda's 10 s init phase. Default: env `LAMBDA_DISPATCH_INIT_TIMEOUT` (ms), else 9500. */
  initTimeoutMs?: number;
  /** Leave the init phase when `initTimeoutMs` passes and keep waiting in the first invocation. Default: env `LAMBDA_DISPATCH_ASYNC_INIT`, else false. */
  asyncInit?: boolean;
  /** With async init: how long after the start the app may take to become ready. Default: env `LAMBDA_DISPATCH_ASYNC_INIT_TIMEOUT` (ms), else 60000. */
  asyncInitTimeoutMs?: number;
  /**
   * Pooled connections to the app idle this long are closed by the extension, before the app's
   * own keep-alive timer can close them under a request (an app that announces
   * `keep-alive: timeout=N` gets N−1 s when that is shorter). Default: env
   * `LAMBDA_DISPATCH_KEEPALIVE_IDLE_MS`, else 4000 (Node's servers close idle sockets at 5 s).
   */
  keepAliveIdleMs?: number;
  /**
   * A channel lost without GOAWAY is reopened for this long (the router may have restarted or the
   * network blipped) before the invocation gives up with `router-lost`. 0 disables. Default: env
   * `LAMBDA_DISPATCH_RECONNECT_MS`, else 2000.
   */
  reconnectMs?: number;
  /**
   * Where an event that is neither an HTTP event nor the router's payload (SQS, SNS, S3,
   * EventBridge…) is POSTed, its JSON as the body; the app's answer is the invocation's result.
   * Default: env `LAMBDA_DISPATCH_PassThroughPath`, else `/events`.
   */
  passThroughPath?: string;
  /**
   * Taken off the start of the path of API Gateway events (payload 1.0 and 2.0, so Function URLs
   * too) when the path starts with it, e.g. a stage's `/prod`. Default: env
   * `LAMBDA_DISPATCH_RemoveBasePath`, else nothing.
   */
  removeBasePath?: string;
  /**
   * `{ port }` apps: `http` (ready when `GET healthPath` answers a healthy status) or `tcp` (ready
   * once the port accepts a connection). Default: env `LAMBDA_DISPATCH_ReadinessProtocol`, else `http`.
   */
  readinessProtocol?: 'http' | 'tcp';
  /**
   * `{ port }` apps, HTTP readiness: the statuses that count as ready, as text (`"200-399,404"`)
   * or a list (`[200, 204]`). Default: env `LAMBDA_DISPATCH_HealthyStatus`, else `200`.
   */
  healthyStatus?: string | readonly number[];
  /** Invocation-level problems (never one line per request). Default: console.error. */
  log?: (message: string) => void;
  /**
   * Where the per-request JSON lines go (a pino logger). Default: stdout, in Lambda's JSON log
   * format when AWS_LAMBDA_LOG_FORMAT=JSON, at AWS_LAMBDA_LOG_LEVEL.
   */
  logger?: Logger;
  /**
   * Share of requests (0–1) that get a line; a failed request, a 5xx or an abort always does.
   * Default: env `LAMBDA_DISPATCH_AccessLogSample`, else 0: the router's access log already has a
   * line for every request with the same instance and trace ids, and the line here was the
   * largest single cost of the Lambda side (about a third of its CPU per request on `/ping`).
   */
  accessLogSample?: number;
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
  compression: boolean;
  initTimeoutMs: number;
  asyncInit: boolean;
  asyncInitTimeoutMs: number;
  keepAliveIdleMs: number;
  reconnectMs: number;
  passThroughPath: string;
  /** Without trailing slashes; undefined when nothing is to be taken off. */
  removeBasePath: string | undefined;
  readinessProtocol: 'http' | 'tcp';
  healthyStatus: StatusRanges;
  log: (message: string) => void;
  /**
   * Where per-request lines go (request-log.ts), and the share of requests that get one. A getter:
   * the default logger (and the exit hook its writer installs) is made on first use, not when the
   * extension is imported.
   */
  logger: () => Logger;
  accessLogSample: number;
}

type Env = Record<string, string | undefined>;

const ms = milliseconds();
const nonNegative = decimal({ min: 0 });
const positive = decimal({ positive: true });
const protocol = oneOf(['http', 'tcp']);
const share = decimal({ min: 0, max: 1 });
/** Statuses that counted as ready before the setting existed. */
export const DEFAULT_HEALTHY_STATUS: StatusRanges = Object.freeze([Object.freeze([200, 200] as const)]);

/** `/prod/` and `/prod` mean the same prefix; `/` takes nothing off. */
function basePath(path: string | undefined): string | undefined {
  const trimmed = path?.replace(/\/+$/, '');
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** `LAMBDA_DISPATCH_PORT` (default 3001). */
export function envPort(env: Env = process.env): number {
  return envReader(env)('LAMBDA_DISPATCH_PORT', port(), 3001);
}

/**
 * Options in code win over the environment, but every variable that is set is checked even when
 * an option overrides it: a bad value is a misconfiguration wherever it sits, and failing on it
 * does not depend on which code path happens to read it.
 */
export function resolveOptions(o: ExtensionOptions = {}, env: Env = process.env): ResolvedOptions {
  const read = envReader(env);
  const fromEnv = {
    deadlineMarginMs: read('LAMBDA_DISPATCH_DeadlineMarginMs', ms),
    compression: read('LAMBDA_DISPATCH_ENABLE_COMPRESSION', boolean, true),
    initTimeoutMs: read('LAMBDA_DISPATCH_INIT_TIMEOUT', ms, 9500),
    asyncInit: read('LAMBDA_DISPATCH_ASYNC_INIT', boolean, false),
    asyncInitTimeoutMs: read('LAMBDA_DISPATCH_ASYNC_INIT_TIMEOUT', ms, 60_000),
    // A zero idle time could keep no connection at all; it has always meant the default.
    keepAliveIdleMs: read('LAMBDA_DISPATCH_KEEPALIVE_IDLE_MS', ms, 4000) || 4000,
    reconnectMs: read('LAMBDA_DISPATCH_RECONNECT_MS', ms, 2000),
    passThroughPath: read('LAMBDA_DISPATCH_PassThroughPath', urlPath, '/events'),
    removeBasePath: read('LAMBDA_DISPATCH_RemoveBasePath', urlPath),
    readinessProtocol: read('LAMBDA_DISPATCH_ReadinessProtocol', protocol, 'http'),
    healthyStatus: read('LAMBDA_DISPATCH_HealthyStatus', statusList, DEFAULT_HEALTHY_STATUS),
    accessLogSample: read('LAMBDA_DISPATCH_AccessLogSample', share, 0),
  };
  const given = o.logger;
  const opt = <K extends keyof ExtensionOptions, T>(name: K, r: Checker<T>, fallback: T): T => option(`ExtensionOptions.${name}`, o[name], r, fallback);
  return Object.freeze({
    deadlineMarginMs: opt('deadlineMarginMs', nonNegative, fromEnv.deadlineMarginMs),
    hardStopMarginMs: opt('hardStopMarginMs', nonNegative, 250),
    healthTimeoutMs: opt('healthTimeoutMs', nonNegative, 10_000),
    healthIntervalMs: opt('healthIntervalMs', positive, 10),
    connectTimeoutMs: opt('connectTimeoutMs', positive, 5_000),
    highWaterMark: opt('highWaterMark', positive, 256 * 1024),
    maxChunkBytes: opt('maxChunkBytes', positive, 64 * 1024),
    inlineBodyBytes: opt('inlineBodyBytes', nonNegative, 64 * 1024),
    compression: opt('compression', boolean, fromEnv.compression),
    initTimeoutMs: opt('initTimeoutMs', nonNegative, fromEnv.initTimeoutMs),
    asyncInit: opt('asyncInit', boolean, fromEnv.asyncInit),
    asyncInitTimeoutMs: opt('asyncInitTimeoutMs', nonNegative, fromEnv.asyncInitTimeoutMs),
    keepAliveIdleMs: opt('keepAliveIdleMs', positive, fromEnv.keepAliveIdleMs),
    reconnectMs: opt('reconnectMs', nonNegative, fromEnv.reconnectMs),
    passThroughPath: opt('passThroughPath', urlPath, fromEnv.passThroughPath),
    removeBasePath: basePath(option('ExtensionOptions.removeBasePath', o.removeBasePath, urlPath, fromEnv.removeBasePath)),
    readinessProtocol: opt('readinessProtocol', protocol, fromEnv.readinessProtocol),
    healthyStatus: opt('healthyStatus', statusList, fromEnv.healthyStatus),
    log: o.log ?? ((m) => console.error(m)),
    logger: given !== undefined ? () => given : () => extensionLogger(env),
    accessLogSample: opt('accessLogSample', share, fromEnv.accessLogSample),
  });
}

/** The invoke payload as the extension uses it: checked, routerUrl without trailing slashes. */
export type ParsedPayload = InvokePayload;

/** Checks the invoke event; a malformed one is a caller bug and fails the invocation. */
export function parsePayload(event: unknown): ParsedPayload {
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
  if (e.openChannels !== undefined && (!Number.isInteger(e.openChannels) || (e.openChannels as number) < 1 || (e.openChannels as number) > (e.channels as number))) {
    return bad('openChannels must be an integer from 1 to channels');
  }
  // Without a pin a wss:// router could not be told from an impostor, and the token would go to either.
  const tls = /^wss:/i.test(e.routerUrl);
  if (tls && e.certSha256 === undefined) return bad('a wss:// routerUrl needs certSha256');
  if (e.certSha256 !== undefined && (typeof e.certSha256 !== 'string' || !CERT_SHA256_TEXT.test(e.certSha256))) return bad('certSha256 must be 64 lower-case hex digits');
  return {
    v: 1,
    routerUrl: e.routerUrl.replace(/\/+$/, ''),
    ...(tls ? { certSha256: e.certSha256 as string } : {}),
    instanceId: e.instanceId,
    token: e.token,
    channels: e.channels as number,
    ...(e.openChannels !== undefined ? { openChannels: e.openChannels as number } : {}),
    maxConcurrent: e.maxConcurrent as number,
    ...(e.initOnly === true ? { initOnly: true } : {}),
  };
}
