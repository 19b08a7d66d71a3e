// The router's own endpoints, answered on the main thread without dispatching.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSnapshot } from '../core/dispatcher/status.ts';

export const ADMIN_PREFIX = '/_lambda_dispatch/';

export interface IngressStatus {
  activeRequests: number;
  connections: number;
  /** The whole router process (both threads). */
  memory: { rssBytes: number; heapUsedBytes: number; arrayBuffersBytes: number };
}

export function processMemory(): IngressStatus['memory'] {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, arrayBuffersBytes: m.arrayBuffers };
}

export interface AdminSource {
  healthy(): boolean;
  status(): Promise<StatusSnapshot>;
  ingress(): IngressStatus;
}

export function isAdminRequest(req: IncomingMessage): boolean {
  return req.url !== undefined && req.url.startsWith(ADMIN_PREFIX);
}

export function serveAdmin(req: IncomingMessage, res: ServerResponse, src: AdminSource): void {
  const path = req.url!.split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === `${ADMIN_PREFIX}health`) {
    const ok = src.healthy();
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(ok ? 'ok\n' : 'dispatcher down\n');
    return;
  }
  if (path === `${ADMIN_PREFIX}status`) {
    src.status().then(
      (s) => {
        const body = JSON.stringify({ ...s, ingress: src.ingress() }, null, 2);
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body + '\n');
      },
      (err: Error) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}
