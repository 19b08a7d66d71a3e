// How requests reach the app: always loopback HTTP, through a keep-alive agent. A Node request
// listener gets one http.Server per execution environment (started lazily, kept across
// invocations), so Express/Koa/Fastify see exactly Node's own semantics; `{ port }` is any app in
// any language that answers `GET healthPath` with 200 once it is ready.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PortApp } from './types.ts';

export interface AppTarget {
  /** For messages: `listener` or `127.0.0.1:3001`. */
  readonly description: string;
  /** Resolves once requests can be sent; rejects with a clear message when the app cannot be reached in time. */
  ready(timeoutMs: number): Promise<void>;
  /** A request to the app. `headers` is the flat [name, value, …] form, repeats kept. */
  request(method: string, path: string, headers: string[]): http.ClientRequest;
}

function newAgent(): http.Agent {
  // Unlimited sockets: concurrency is bounded by the router's maxConcurrent, not by the pool.
  return new http.Agent({ keepAlive: true, maxSockets: Infinity });
}

class HttpTarget {
  readonly agent = newAgent();
  host = '127.0.0.1';
  port = 0;

  request(method: string, path: string, headers: string[]): http.ClientRequest {
    return http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent });
  }

  get authority(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }
}

// ── request listener: one in-process server per environment ──────────────────────────────────

interface LocalServer {
  server: http.Server;
  target: HttpTarget;
}

const localServers = new Map<http.RequestListener, Promise<LocalServer>>();

function startLocalServer(app: http.RequestListener): Promise<LocalServer> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(app);
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
      const target = new HttpTarget();
      target.port = (server.address() as AddressInfo).port;
      resolve({ server, target });
    });
  });
}

class ListenerTarget implements AppTarget {
  readonly description = 'in-process request listener';
  private local: LocalServer | null = null;

  constructor(private readonly app: http.RequestListener) {}

  async ready(): Promise<void> {
    // Looked up per invocation (cheap): closeLocalServers() may have closed the last one.
    let p = localServers.get(this.app);
    if (p === undefined) {
      p = startLocalServer(this.app);
      localServers.set(this.app, p);
      // A failed start may be retried by a later invocation.
      p.catch(() => localServers.delete(this.app));
    }
    try {
      this.local = await p;
    } catch (err) {
      throw new Error(`the app's loopback server could not listen: ${(err as Error).message}`);
    }
  }

  request(method: string, path: string, headers: string[]): http.ClientRequest {
    if (this.local === null) throw new Error('app target used before ready()');
    return this.local.target.request(method, path, headers);
  }
}

// ── { port }: an app listening on its own ────────────────────────────────────────────────────

function probe(host: string, port: number, path: string, timeoutMs: number): Promise<number | Error> {
  return new Promise((resolve) => {
    // A fresh connection per probe: the pool only ever holds sockets of real requests.
    const req = http.get({ host, port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (err) => resolve(err));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class PortTarget implements AppTarget {
  private readonly http = new HttpTarget();
  private readonly healthPath: string;
  readonly description: string;

  constructor(
    app: PortApp,
    private readonly intervalMs: number,
  ) {
    if (!Number.isInteger(app.port) || app.port < 1 || app.port > 65535) {
      throw new RangeError(`lambda-dispatch: app port must be an integer in 1..65535, got ${app.port}`);
    }
    this.http.host = app.host ?? '127.0.0.1';
    this.http.port = app.port;
    this.healthPath = app.healthPath ?? '/health';
    this.description = this.http.authority;
  }

  /** Polls `GET healthPath` until it answers 200, for at most `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last = 'no probe made';
    for (;;) {
      const left = until - Date.now();
      const r = await probe(this.http.host, this.http.port, this.healthPath, Math.max(1, Math.min(1000, left)));
      if (r === 200) return;
      last = r instanceof Error ? r.message : `status ${r}`;
      if (Date.now() + this.intervalMs > until) break;
      await sleep(this.intervalMs);
    }
    throw new Error(
      `the app at ${this.description} did not answer GET ${this.healthPath} with 200 within ${timeoutMs} ms (last: ${last})`,
    );
  }

  request(method: string, path: string, headers: string[]): http.ClientRequest {
    return this.http.request(method, path, headers);
  }
}

export function appTarget(app: http.RequestListener | PortApp, healthIntervalMs: number): AppTarget {
  if (typeof app === 'function') return new ListenerTarget(app);
  if (app !== null && typeof app === 'object' && 'port' in app) return new PortTarget(app, healthIntervalMs);
  throw new TypeError('lambda-dispatch: createHandler needs a request listener (req, res) => void or { port }');
}

/**
 * Closes the in-process servers started for request listeners and their pooled connections. Lambda
 * never needs this (the environment just ends); tests and long-lived workers shutting down do.
 */
export async function closeLocalServers(): Promise<void> {
  const all = [...localServers.values()];
  localServers.clear();
  await Promise.all(
    all.map(async (p) => {
      const local = await p.catch(() => null);
      if (local === null) return;
      local.target.agent.destroy();
      local.server.closeAllConnections();
      await new Promise<void>((r) => local.server.close(() => r()));
    }),
  );
}
