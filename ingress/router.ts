// The router process: the client-facing HTTP server on the main thread and the dispatcher thread,
// joined by two shared-memory rings.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { RouterConfig } from '../core/config.ts';
import { describeEvent } from '../core/dispatcher/events.ts';
import { RouteTable } from '../core/routing/route-table.ts';
import { EventLoopStats } from '../core/event-loop-stats.ts';
import { RingConsumer, RingProducer, createRingBuffer } from '../core/ring.ts';
import { RingWriter } from '../core/ring-writer.ts';
import { Health, isHealthRequest, processMemory, serveAdmin, serveHealth, type RouterStatus } from './admin.ts';
import { dashboardPage } from './dashboard/dashboard.ts';
import { DispatcherThread, dispatcherOnMainThread } from './dispatcher-thread.ts';
import { ForwardedHeaders } from './forwarded.ts';
import { Proxy } from './proxy.ts';
import { AccessLog } from './telemetry/access-log.ts';
import { EmfAggregator, EmfPublisher } from './telemetry/emf.ts';
import { createLogger, logEvent, type Logger } from './telemetry/logger.ts';
import { RouterMetrics } from './telemetry/metrics.ts';
import type { RequestRecord } from './telemetry/request-record.ts';

export type { RouterStatus } from './admin.ts';

export interface RouterOptions {
  config: RouterConfig;
  /** Interface for the client and control ports (0.0.0.0 in a container, 127.0.0.1 locally); the admin port has its own (config.adminBindHost). */
  bindHost?: string;
  /**
   * Diagnostics and lifecycle events as text lines (tests, tools). Without it they go to `logger`
   * as structured lines, as everything else always does.
   */
  log?: (line: string) => void;
  /** The JSON log (access log, events, EMF): by default on stdout at LAMBDA_DISPATCH_LogLevel. */
  logger?: Logger;
  /** The dispatcher thread module (the bundle ships a .js one). */
  threadFile?: URL | string;
}

export interface Router {
  url: string;
  port: number;
  controlPort: number;
  /** SHA-256 of the control port's certificate (what extensions and workers pin); null without TLS. */
  certSha256: string | null;
  /** The admin listener (status; health too), on LAMBDA_DISPATCH_AdminBindHost (loopback by default). */
  adminUrl: string;
  adminPort: number;
  status(): Promise<RouterStatus>;
  /**
   * The drain (SIGTERM): health answers 503 and the dispatcher is told at once; every request
   * from now on gets 503 LD_SHUTTING_DOWN with Connection: close, and every response still to
   * begin says Connection: close. No connection is closed under a client: in-flight requests get
   * until the grace ends, and with `waitForClients` the router keeps answering on open connections
   * until their clients have closed them and gone quiet for DRAIN_QUIET_MS (or the grace ends). Then idle connections are closed,
   * whatever is still in flight is cut (counted), and the dispatcher thread stops.
   * Without `waitForClients` (tests, tools), idle connections are closed as soon as nothing is in flight.
   */
  close(graceMs?: number, opts?: { waitForClients?: boolean }): Promise<DrainResult>;
}

export interface DrainResult {
  /** From the start of the drain until the dispatcher thread stopped. */
  ms: number;
  /** Requests still in flight when the grace ended: answered 503 (response not begun) or reset. */
  cut: { answered: number; reset: number };
  /** Connections with no request on them, closed by the router when the grace ended. */
  idleConnectionsClosed: number;
}

/**
 * With waitForClients, the drain ends before its grace only when nothing is in flight, no client
 * connection is open and none opened or closed for this long: a client that just got a response
 * with Connection: close may be about to reconnect, and it should get a 503, not a refused connection.
 */
export const DRAIN_QUIET_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRouter(o: RouterOptions): Promise<Router> {
  const { config } = o;
  const bindHost = o.bindHost ?? '0.0.0.0';
  const logger = o.logger ?? createLogger(config.logLevel);
  const log = o.log ?? ((line: string) => logger.warn(line));
  const requestRing = createRingBuffer(config.ringBytes);
  const responseRing = createRingBuffer(config.ringBytes);
  const mainThread = dispatcherOnMainThread(config.dispatcherThread);
  const ring = { sameThread: mainThread };

  let proxy: Proxy | undefined;
  const writer = new RingWriter(new RingProducer(requestRing, ring), {
    onBlocked: () => proxy?.ringFull(),
    onUnblocked: () => proxy?.ringDrained(),
  });
  const forwarded = new ForwardedHeaders(config.trustProxy);
  const metrics = new RouterMetrics();
  const accessLog = new AccessLog(logger, config.accessLogSample, forwarded);
  let emf: EmfPublisher | undefined;
  const ended = (r: RequestRecord) => {
    metrics.observe(r);
    accessLog.write(r);
    emf?.observe(r);
  };
  proxy = new Proxy(writer, config.windowBytes, forwarded, config.requestTelemetry ? ended : undefined);
  const p = proxy;
  const eventLoop = new EventLoopStats();

  /** SIGTERM arrived (close() was called). */
  let draining = false;
  /** The dispatcher thread is being stopped on purpose. */
  let stopping = false;
  const health = new Health(() => (!thread.alive ? 'dispatcher down' : draining ? 'draining' : 'ok'));
  const thread = await DispatcherThread.start(
    { config, bindHost, requestRing, responseRing },
    {
      log: {
        line: (level, line) => (o.log ? o.log(line) : logger[level](line)),
        event: (e) => {
          logEvent(logger, e);
          o.log?.(describeEvent(e));
        },
      },
      ...(o.threadFile ? { file: o.threadFile } : {}),
      mainThread,
      onExit: (code) => {
        health.invalidate();
        if (stopping) return;
        log(`dispatcher thread exited unexpectedly (code ${code})`);
        p.failAll();
      },
    },
  );
  const responses = new RingConsumer(responseRing, ring);
  // One bad record must cost one request, never the router: log it and go on.
  const consuming = responses.run((type, slot, payload) => {
    try {
      p.onRecord(type, slot, payload);
    } catch (err) {
      log(`ingress: record type ${type} for slot ${slot} failed: ${(err as Error).stack ?? String(err)}`);
    }
  });

  // Several functions: each request's is resolved here, from what Node has parsed already.
  const routes = config.routes ? RouteTable.compile(config.routes.spec) : null;
  /** The request's function: undefined with one function, null when none is routed it (404). */
  const route = (req: IncomingMessage): number | undefined | null => {
    if (routes === null) return undefined;
    const header = routes.headerName === null ? undefined : req.headers[routes.headerName];
    const to = routes.resolve({ host: req.headers.host, target: req.url ?? '/', header: Array.isArray(header) ? header.join(',') : header });
    return to.kind === 'none' ? null : to.index;
  };
  let connections = 0;
  /** When a client connection last opened or closed. */
  let connectionsChangedAt = 0;
  const server: Server = createServer(
    {
      maxHeaderSize: config.maxHeaderBytes,
      // Bodies stream for as long as they take; idle keep-alive outlasts a load balancer's 60 s.
      requestTimeout: 0,
      keepAliveTimeout: 65_000,
    },
    (req, res) => {
      // During the drain every response closes its connection, the router's own included.
      if (draining) res.shouldKeepAlive = false;
      if (isHealthRequest(req)) return serveHealth(req, res, health);
      const to = route(req);
      if (to === null) return p.noRoute(req, res);
      p.handle(req, res, to);
    },
  );
  // Upgrades (WebSockets) go to the function like any request and become tunnels (tunnel.ts).
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    p.upgrade(req, socket, head, route(req));
  });
  server.headersTimeout = 30_000;
  server.on('connection', (socket) => {
    connections++;
    connectionsChangedAt = Date.now();
    socket.once('close', () => {
      connections--;
      connectionsChangedAt = Date.now();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code === 'HPE_HEADER_OVERFLOW') {
      socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    } else if (socket.writable) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    } else socket.destroy();
  });

  const status = async (): Promise<RouterStatus> => {
    const t = await thread.status();
    const { eventLoop: dispatcherLoop, ...memory } = t.thread;
    return {
      ...t.status,
      ingress: {
        activeRequests: p.active,
        connections,
        draining,
        // One isolate when the dispatcher shares the main thread: its heap is already ingress's.
        memory: processMemory(mainThread ? null : memory),
        eventLoop: { ingress: eventLoop.window, dispatcher: dispatcherLoop },
        stalls: { requestWindow: p.windowStalls, requestRingFull: writer.fullEvents },
        requestRing: writer.fill,
      },
    };
  };
  if (config.emfNamespace !== undefined) {
    const out = logger.child({ type: 'metrics' }, { level: 'info' });
    emf = new EmfPublisher(new EmfAggregator(config.emfNamespace, config.emfService), out, status, config.emfIntervalMs);
  }
  const admin = createServer({ maxHeaderSize: 8192 }, (req, res) =>
    serveAdmin(req, res, {
      health,
      status,
      metrics: async () => ({ text: await metrics.render(await status()), contentType: metrics.contentType }),
      page: (path) => dashboardPage(path, { status, durations: () => metrics.durationBuckets() }),
    }),
  );

  try {
    await listen(server, config.incomingPort, bindHost);
    await listen(admin, config.adminPort, config.adminBindHost);
  } catch (err) {
    server.close();
    stopping = true;
    await thread.stop(0);
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const adminPort = (admin.address() as AddressInfo).port;

  async function drain(graceMs: number, waitForClients: boolean): Promise<DrainResult> {
    const started = Date.now();
    const until = started + graceMs;
    draining = true;
    health.invalidate();
    p.beginDrain();
    thread.drain();
    // The listener stays open: a client that connects now gets 503 with Connection: close, not a
    // refusal. With waitForClients the drain ends early only once the clients have gone quiet.
    const busy = () => p.active > 0 || (waitForClients && (connections > 0 || Date.now() - connectionsChangedAt < DRAIN_QUIET_MS));
    while (busy() && Date.now() < until) await sleep(20);
    const cut = p.cutAll();
    await emf?.stop();
    const idleConnectionsClosed = connections;
    const closed = Promise.all([new Promise((r) => server.close(r)), new Promise((r) => admin.close(r))]);
    server.closeAllConnections();
    admin.closeAllConnections();
    await closed;
    stopping = true;
    await thread.stop(Math.max(0, until - Date.now()));
    responses.stop();
    await consuming;
    writer.close();
    eventLoop.stop();
    logger.flush();
    return { ms: Date.now() - started, cut, idleConnectionsClosed };
  }

  let drained: Promise<DrainResult> | undefined;
  const host = (h: string) => (h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '[::1]' : h.includes(':') ? `[${h}]` : h);
  return {
    url: `http://${host(bindHost)}:${port}`,
    port,
    controlPort: thread.controlPort,
    certSha256: thread.certSha256,
    adminUrl: `http://${host(config.adminBindHost)}:${adminPort}`,
    adminPort,
    status,
    close: (graceMs = 10_000, opts = {}) => (drained ??= drain(graceMs, opts.waitForClients ?? false)),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
