// Runs the demo app directly on a port: the "direct, no router" baseline.
//   DEMO_PORT (default 3001), DEMO_HOST (default 127.0.0.1)

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { demoServer } from './sockets.ts';

export function serveDemo(port: number, host = '127.0.0.1'): Promise<http.Server> {
  const server = demoServer();
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function envPort(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new Error(`${name} must be a port number (0..65535), got "${raw}"`);
  return v;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await serveDemo(envPort('DEMO_PORT', 3001), process.env.DEMO_HOST?.trim() || '127.0.0.1');
  const { address, port } = server.address() as AddressInfo;
  console.log(`demo app listening on http://${address}:${port}`);
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
