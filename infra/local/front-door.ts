// The HTTP server in front of an environment pool (the Invoke API, or direct mode): listening,
// its URL, and a close that stops the server and every environment, once.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EnvironmentPool } from './environment-pool.ts';

export interface FrontDoor {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function openFrontDoor(server: Server, pool: EnvironmentPool, port = 0, host = '127.0.0.1'): Promise<FrontDoor> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${address.port}`,
    port: address.port,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await pool.close();
        await closed;
      })()),
  };
}
