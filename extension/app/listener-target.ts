// A Node request listener (or a fetch handler adapted to one) as a target: one loopback server per
// environment (registry.ts), reached over in-memory connections, which made the loopback hop
// cost more CPU than the app itself (transport/pool.ts).

import type http from 'node:http';
import type { AppRegistry } from './registry.ts';
import type { LocalServer } from './local-server.ts';
import type { AppRequest, AppTarget } from './target.ts';

const noExit = () => () => {};

export class ListenerTarget implements AppTarget {
  private local: LocalServer | null = null;
  readonly onExit = noExit;

  constructor(
    private readonly registry: AppRegistry,
    private readonly app: http.RequestListener,
    readonly description = 'in-process request listener',
  ) {}

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
