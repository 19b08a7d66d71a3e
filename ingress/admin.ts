// The router's own endpoints, answered on the main thread without dispatching. Only the health
// check is on the client port (the load balancer needs it there); the status page, /metrics and
// the dashboard are on the admin listener, bound to loopback unless LAMBDA_DISPATCH_AdminBindHost
// says otherwise. Any other path, /_lambda_dispatch/* included, is the app's on the client port.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventLoopWindow } from '../core/event-loop-stats.ts';
import type { StatusSnapshot } from '../core/dispatcher/status.ts';
import type { ThreadMemory } from '../core/dispatcher/messages.ts';
import { TokenBucket } from './token-bucket.ts';

export const ADMIN_PREFIX = '/_lambda_dispatch/';
export const HEALTH_PATH = `${ADMIN_PREFIX}health`;
export const STATUS_PATH = `${ADMIN_PREFIX}status`;
/** Prometheus's conventional path; on the admin listener only. */
export const METRICS_PATH = '/metrics';

/** Fresh health checks a second on the client port (and burst); beyond that, the last answer. */
export const HEALTH_CHECKS_PER_SECOND = 20;
export const HEALTH_BURST = 40;

export interface Memory {
  /** The whole process. */
  rssBytes: number;
  /** Both threads' heaps (each isolate has its own); byThread splits them. */
  heapUsedBytes: number;
  arrayBuffersBytes: number;
  byThread: { ingress: ThreadMemory; dispatcher: ThreadMemory | null };
}

export interface IngressStatus {
  activeRequests: number;
  connections: number;
  /** SIGTERM arrived: health answers 503 and new requests get 503 with Connection: close. */
  draining: boolean;
  memory: Memory;
  /** Each thread's event loop over the last window (core/event-loop-stats.ts); null: the dispatcher did not answer. */
  eventLoop: { ingress: EventLoopWindow; dispatcher: EventLoopWindow | null };
  /** Request-direction backpressure: bodies that filled their window, and times the request ring was full. */
  stalls: { requestWindow: number; requestRingFull: number };
  requestRing: { usedBytes: number; sizeBytes: number };
}

export type RouterStatus = StatusSnapshot & { ingress: IngressStatus };

export function processMemory(dispatcher: ThreadMemory | null): Memory {
  const m = process.memoryUsage();
  const ingress = { heapUsedBytes: m.heapUsed, arrayBuffersBytes: m.arrayBuffers };
  return {
    rssBytes: m.rss,
    heapUsedBytes: ingress.heapUsedBytes + (dispatcher?.heapUsedBytes ?? 0),
    arrayBuffersBytes: ingress.arrayBuffersBytes + (dispatcher?.arrayBuffersBytes ?? 0),
    byThread: { ingress, dispatcher },
  };
}

/**
 * The health answer, recomputed at most HEALTH_CHECKS_PER_SECOND (token bucket); over the limit
 * the last answer is repeated. Never 429: a load balancer reads anything but 200 as unhealthy, so a
 * flood of health requests must not be able to take a healthy router out of service. A change the
 * router itself makes (drain, dispatcher lost) calls invalidate() and shows on the next request.
 */
export class Health {
  private last: HealthState | undefined;
  private readonly bucket: TokenBucket;

  constructor(
    private readonly check: () => HealthState,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bucket = new TokenBucket(HEALTH_CHECKS_PER_SECOND, HEALTH_BURST, now());
  }

  state(): HealthState {
    if (this.bucket.take(this.now()) || this.last === undefined) this.last = this.check();
    return this.last;
  }

  invalidate(): void {
    this.last = undefined;
  }
}

/** 'ok' is healthy; anything else says why not. */
export type HealthState = 'ok' | 'draining' | 'dispatcher down';

export function isHealthRequest(req: IncomingMessage): boolean {
  const url = req.url;
  return url !== undefined && url.startsWith(HEALTH_PATH) && (url.length === HEALTH_PATH.length || url[HEALTH_PATH.length] === '?');
}

function methodAllowed(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
  return false;
}

export function serveHealth(req: IncomingMessage, res: ServerResponse, health: Health): void {
  if (!methodAllowed(req, res)) return;
  const state = health.state();
  res.writeHead(state === 'ok' ? 200 : 503, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(`${state}\n`);
}

export interface AdminSource {
  health: Health;
  status(): Promise<RouterStatus>;
  /** The Prometheus exposition and its content type. */
  metrics(): Promise<{ text: string; contentType: string }>;
  /** Other pages of the admin listener (the dashboard), by path; undefined when none matches. */
  page?(path: string): ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

/** The admin listener: health, status, metrics, and the pages `src.page` knows. */
export function serveAdmin(req: IncomingMessage, res: ServerResponse, src: AdminSource): void {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === HEALTH_PATH) return serveHealth(req, res, src.health);
  const reply = (body: Promise<{ text: string; contentType: string }>) => {
    if (!methodAllowed(req, res)) return;
    body.then(
      ({ text, contentType }) => res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(text),
      (err: Error) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  };
  if (path === STATUS_PATH) return reply(src.status().then((s) => ({ text: JSON.stringify(s, null, 2) + '\n', contentType: 'application/json' })));
  if (path === METRICS_PATH) return reply(src.metrics());
  const page = src.page?.(path);
  if (page !== undefined) {
    if (methodAllowed(req, res)) page(req, res);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}
