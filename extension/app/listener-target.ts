// A Node request listener (or a fetch handler adapted to one) as a target: one loopback server per
// environment (registry.ts), reached over in-memory connections, which made the loopback hop
// cost more CPU than the app itself (transport/pool.ts).

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppRegistry } from './registry.ts';
import type { LocalServer } from './local-server.ts';
import { upgradeRequest, type AppRequest, type AppTarget } from './target.ts';

const noExit = () => () => {};

export class ListenerTarget implements AppTarget {
  private local: LocalServer | null = null;
  readonly onExit = noExit;

  /** Absent for a fetch handler: its Request has no socket to upgrade. */
  readonly upgrade?: (method: string, path: string, headers: string[]) => http.ClientRequest;

  constructor(
    private readonly registry: AppRegistry,
    private readonly app: http.RequestListener | http.Server,
    readonly description = 'in-process request listener',
    upgrades = true,
  ) {
    // Upgrades take a real loopback connection to the app's server, whose 'upgrade' listeners (ws,
    // socket.io, @fastify/websocket) get the socket as they would from any client; a request
    // listener's own server has none and answers the request as any other.
    if (upgrades) {
      this.upgrade = (method, path, headers) => {
        if (this.local === null) throw new Error('app target used before ready()');
        return upgradeRequest('127.0.0.1', (this.local.server.address() as AddressInfo).port, method, path, headers);
      };
    }
  }

  async ready(): Promise<void> {
    // Looked up per invocation (cheap): closeLocalServers() may have closed the last one.
    try {
      this.local = await this.registry.localServer(this.app);
    } catch (err) {
      throw new Error(`the app's loopback server could not listen: ${(err as Error).message}`);
    }
  }

  request(method: string, path: string, headers: string[]): AppRequest {
    if (this.local === null) throw new Error('app target used before ready()');
    return this.local.pool.request(method, path, headers);
  }
}
