// The in-process http.Server of a Node request listener and the pool of in-memory connections into
// it. The server listens on loopback only so that anything else that wants to reach the app can;
// the extension's own requests never go through that socket (transport/pool.ts says why).

import http from 'node:http';
import { ConnectionPool } from './transport/pool.ts';

export interface LocalServer {
  server: http.Server;
  pool: ConnectionPool;
}

/** `app`: a request listener, served by a server of ours, or the app's own (not yet listening) http.Server. */
export function startLocalServer(app: http.RequestListener | http.Server): Promise<LocalServer> {
  return new Promise((resolve, reject) => {
    const server = app instanceof http.Server ? app : http.createServer(app);
    // Both ends of these connections live in this process. Idle sockets are kept long so the
    // agent's pooled sockets are not closed under it (a frozen-then-thawed environment fires every
    // expired timer at once); the agent retries once on a reused socket that was closed anyway.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    // A Lambda request may stream for up to 15 minutes: no whole-request timeout here.
    server.requestTimeout = 0;
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      // The listening handle must not keep a process alive that has nothing else to do.
      server.unref();
      resolve({ server, pool: new ConnectionPool(server) });
    });
  });
}

/** Closes the pooled connections, then the server (the server's closeAllConnections closes the rest). */
export async function closeLocalServer(local: LocalServer): Promise<void> {
  local.pool.destroy();
  local.server.closeAllConnections();
  await new Promise<void>((r) => local.server.close(() => r()));
}
