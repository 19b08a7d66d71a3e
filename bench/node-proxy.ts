// A plain node:http reverse proxy, the bench's yardstick for the router's throughput: one process,
// one event loop, keep-alive to the upstream, bodies piped both ways, hop-by-hop headers dropped.
//   PROXY_TARGET=http://127.0.0.1:3001 [PROXY_PORT=0] node --import tsx bench/node-proxy.ts

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

export function createNodeProxy(target: string): http.Server {
  const up = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    const upstream = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent }, (ures) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(ures.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      res.writeHead(ures.statusCode ?? 502, out);
      ures.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  return server;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = process.env.PROXY_TARGET;
  if (!target) {
    console.error('PROXY_TARGET is required');
    process.exit(1);
  }
  const server = createNodeProxy(target);
  server.listen(Number(process.env.PROXY_PORT ?? 0), '127.0.0.1', () => {
    console.log(`node proxy: http://127.0.0.1:${(server.address() as AddressInfo).port} → ${target}`);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.close(() => process.exit(0));
      server.closeAllConnections();
    });
  }
}
