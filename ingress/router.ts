// The router process: the client-facing HTTP server on the main thread and the dispatcher thread,
// joined by two shared-memory rings.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RouterConfig } from '../core/config.ts';
import type { StatusSnapshot } from '../core/dispatcher/status.ts';
import { RingConsumer, RingProducer, createRingBuffer } from '../core/ring.ts';
import { RingWriter } from '../core/ring-writer.ts';
import { isAdminRequest, processMemory, serveAdmin, type IngressStatus } from './admin.ts';
import { DispatcherThread } from './dispatcher-thread.ts';
import { Proxy } from './proxy.ts';

export interface RouterOptions {
  config: RouterConfig;
  /** Interface for both ports (0.0.0.0 in a container, 127.0.0.1 locally). */
  bindHost?: string;
  log?: (line: string) => void;
  /** The dispatcher thread module (the bundle ships a .js one). */
  threadFile?: URL | string;
}

export interface Router {
  url: string;
  port: number;
  controlPort: number;
  /** SHA-256 of the control port's certificate (what extensions and workers pin); null without TLS. */
  certSha256: string | null;
  status(): Promise<StatusSnapshot & { ingress: IngressStatus }>;
  /** Stops taking requests, lets in-flight ones finish (bounded), drains instances, stops the dispatcher thread. */
  close(graceMs?: number): Promise<void>;
}

export async function startRouter(o: RouterOptions): Promise<Router> {
  const { config } = o;
  const bindHost = o.bindHost ?? '0.0.0.0';
  const log = o.log ?? ((line: string) => console.error(`[router] ${line}`));
  const requestRing = createRingBuffer(config.ringBytes);
  const responseRing = createRingBuffer(config.ringBytes);

  let proxy: Proxy | undefined;
  const writer = new RingWriter(new RingProducer(requestRing), {
    onBlocked: () => proxy?.ringFull(),
    onUnblocked: () => proxy?.ringDrained(),
  });
  proxy = new Proxy(writer, config.windowBytes);
  const p = proxy;

  let closing = false;
  const thread = await DispatcherThread.start(
    { config, bindHost, requestRing, responseRing },
    {
      log,
      ...(o.threadFile ? { file: o.threadFile } : {}),
      onExit: (code) => {
        if (closing) return;
        log(`dispatcher thread exited unexpectedly (code ${code})`);
        p.failAll();
      },
    },
  );
  const responses = new RingConsumer(responseRing);
  // One bad record must cost one request, never the router: log it and go on.
  const consuming = responses.run((type, slot, payload) => {
    try {
      p.onRecord(type, slot, payload);
    } catch (err) {
      log(`ingress: record type ${type} for slot ${slot} failed: ${(err as Error).stack ?? String(err)}`);
    }
  });

  let connections = 0;
  const server: Server = createServer(
    {
      maxHeaderSize: config.maxHeaderBytes,
      // Bodies stream for as long as they take; idle keep-alive outlasts a load balancer's 60 s.
      requestTimeout: 0,
      keepAliveTimeout: 65_000,
    },
    (req, res) => {
      if (isAdminRequest(req)) {
        serveAdmin(req, res, {
          healthy: () => thread.alive && !closing,
          status: () => thread.status(),
          ingress: () => ({ activeRequests: p.active, connections, memory: processMemory() }),
        });
        return;
      }
      p.handle(req, res);
    },
  );
  server.headersTimeout = 30_000;
  server.on('connection', (socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code === 'HPE_HEADER_OVERFLOW') {
      socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    } else if (socket.writable) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.incomingPort, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost;

  return {
    url: `http://${host}:${port}`,
    port,
    controlPort: thread.controlPort,
    certSha256: thread.certSha256,
    status: async () => ({ ...(await thread.status()), ingress: { activeRequests: p.active, connections, memory: processMemory() } }),
    close: async (graceMs = 10_000) => {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const until = Date.now() + graceMs;
      while (p.active > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await closed;
      await thread.stop(Math.max(0, until - Date.now()));
      responses.stop();
      await consuming;
      writer.close();
    },
  };
}
