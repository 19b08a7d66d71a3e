// How requests reach the app. A Node request listener gets one http.Server per execution
// environment (started lazily, kept across invocations, listening on loopback), so
// Express/Koa/Fastify see exactly Node's own semantics; the extension's requests reach that server
// over in-memory connections (memory-app.ts) rather than kernel sockets, which made the loopback
// hop cost more CPU than the app itself. A fetch handler is adapted to a request listener.
// `{ port }` is any app in any language that answers `GET healthPath` with 200 once it is ready,
// optionally started by the extension from `command` (never restarted), reached over loopback
// HTTP through a keep-alive agent: its pooled connections idle longer than `keepAliveIdleMs` (or
// the app's announced keep-alive timeout less a second) are closed by our side, so the app never
// closes one under a request.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { Readable } from 'node:stream';
import { fetchListener } from './fetch-app.ts';
import { ConnectionPool } from './memory-app.ts';
import { envPort, type App, type FetchHandler, type PortApp } from './types.ts';

export interface AppTarget {
  /** For messages: `listener` or `127.0.0.1:3001`. */
  readonly description: string;
  /** Resolves once requests can be sent; rejects with a clear message when the app cannot be reached in time. */
  ready(timeoutMs: number): Promise<void>;
  /** A request to the app. `headers` is the flat [name, value, …] form, repeats kept. */
  request(method: string, path: string, headers: string[]): AppRequest;
  /** Calls `listener` if the app's process exits (only `command` apps have one); returns the unsubscribe. */
  onExit(listener: (why: string) => void): () => void;
}

/**
 * A request on its way to the app: an http.ClientRequest (`{ port }` apps) or an in-memory
 * request into an in-process listener (memory-app.ts). What channel.ts and direct.ts use of it.
 */
export interface AppRequest {
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  destroy(): unknown;
  /** The request went out on a pooled connection (which the app may have closed meanwhile). */
  readonly reusedSocket: boolean;
  on(event: 'response', listener: (res: AppResponse) => void): unknown;
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/** The app's response: an http.IncomingMessage, or memory-app.ts's MemoryResponse. */
export type AppResponse = Readable & {
  statusCode?: number | undefined;
  statusMessage?: string | undefined;
  rawHeaders: string[];
  complete: boolean;
};

export interface TargetSettings {
  healthIntervalMs: number;
  keepAliveIdleMs: number;
}

function newAgent(idleMs: number): http.Agent {
  // Unlimited sockets: concurrency is bounded by the router's maxConcurrent, not by the pool.
  // `timeout` closes a pooled socket idle this long (Node lowers it further to the server's
  // `keep-alive: timeout=N` hint less one second).
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, timeout: idleMs });
}

class HttpTarget {
  host = '127.0.0.1';
  port = 0;

  constructor(readonly agent: http.Agent) {}

  request(method: string, path: string, headers: string[]): AppRequest {
    return http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }) as unknown as AppRequest;
  }

  get authority(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }
}

// ── request listener: one in-process server per environment ──────────────────────────────────

interface LocalServer {
  server: http.Server;
  pool: ConnectionPool;
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
      // Requests reach the server over in-memory connections (memory-app.ts), not through the
      // listening socket, which stays open for anything else that wants to reach the app.
      resolve({ server, pool: new ConnectionPool(server) });
    });
  });
}

const noExit = () => () => {};

class ListenerTarget implements AppTarget {
  private local: LocalServer | null = null;
  readonly onExit = noExit;

  constructor(
    private readonly app: http.RequestListener,
    readonly description = 'in-process request listener',
  ) {}

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

  request(method: string, path: string, headers: string[]): AppRequest {
    if (this.local === null) throw new Error('app target used before ready()');
    return this.local.pool.request(method, path, headers);
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

// ── command: the app's own process, one per environment, never restarted ────────────────────

interface AppProcess {
  child: ChildProcess;
  /** Why it ended, once it has. */
  exited: string | null;
  listeners: Set<(why: string) => void>;
}

const appProcesses = new Map<string, AppProcess>();

function startProcess(command: string, port: number, cwd: string | undefined): AppProcess {
  const key = `${cwd ?? ''}\0${port}\0${command}`;
  const existing = appProcesses.get(key);
  if (existing !== undefined) return existing;
  // Its own process group, so that the shell and everything it started can be stopped together.
  const child = spawn(command, {
    shell: true,
    cwd,
    detached: process.platform !== 'win32',
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PORT: String(port) },
  });
  const proc: AppProcess = { child, exited: null, listeners: new Set() };
  const ended = (why: string) => {
    if (proc.exited !== null) return;
    proc.exited = why;
    for (const l of proc.listeners) l(why);
  };
  child.on('error', (err) => ended(`the app command \`${command}\` could not start: ${err.message}`));
  child.on('exit', (code, signal) =>
    ended(`the app command \`${command}\` exited (${signal !== null ? `signal ${signal}` : `code ${code}`}); it is not restarted`),
  );
  appProcesses.set(key, proc);
  return proc;
}

function killProcess(proc: AppProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (proc.exited !== null || proc.child.pid === undefined) return;
  try {
    if (process.platform !== 'win32') process.kill(-proc.child.pid, signal);
    else proc.child.kill(signal);
  } catch {
    proc.child.kill(signal);
  }
}

process.once('exit', () => {
  for (const p of appProcesses.values()) killProcess(p, 'SIGKILL');
});

class PortTarget implements AppTarget {
  private readonly http: HttpTarget;
  private readonly healthPath: string;
  private readonly command: string | undefined;
  private readonly cwd: string | undefined;
  private proc: AppProcess | null = null;
  readonly description: string;

  constructor(app: PortApp, private readonly intervalMs: number, idleMs: number) {
    const port = app.port ?? envPort();
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`lambda-dispatch: app port must be an integer in 1..65535, got ${port}`);
    }
    if (app.command !== undefined && (typeof app.command !== 'string' || app.command.trim() === '')) {
      throw new TypeError('lambda-dispatch: app command must be a non-empty string');
    }
    this.http = new HttpTarget(newAgent(idleMs));
    this.http.host = app.host ?? '127.0.0.1';
    this.http.port = port;
    this.healthPath = app.healthPath ?? (process.env.LAMBDA_DISPATCH_HEALTH_PATH?.trim() || '/health');
    if (!this.healthPath.startsWith('/')) throw new RangeError(`lambda-dispatch: healthPath must start with /, got "${this.healthPath}"`);
    this.command = app.command;
    this.cwd = app.cwd;
    this.description = this.command !== undefined ? `\`${this.command}\` on ${this.http.authority}` : this.http.authority;
  }

  /** Starts the command (once), then polls `GET healthPath` until it answers 200, for at most `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.command !== undefined) this.proc ??= startProcess(this.command, this.http.port, this.cwd);
    const until = Date.now() + timeoutMs;
    let last = 'no probe made';
    for (;;) {
      if (this.proc?.exited != null) throw new Error(this.proc.exited);
      const left = until - Date.now();
      const r = await probe(this.http.host, this.http.port, this.healthPath, Math.max(1, Math.min(1000, left)));
      if (r === 200) return;
      last = r instanceof Error ? r.message : `status ${r}`;
      if (Date.now() + this.intervalMs > until) break;
      await sleep(this.intervalMs);
    }
    if (this.proc?.exited != null) throw new Error(this.proc.exited);
    throw new Error(
      `the app at ${this.description} did not answer GET ${this.healthPath} with 200 within ${Math.round(timeoutMs)} ms (last: ${last})`,
    );
  }

  onExit(listener: (why: string) => void): () => void {
    const proc = this.proc;
    if (proc === null) return () => {};
    if (proc.exited !== null) {
      queueMicrotask(() => listener(proc.exited!));
      return () => {};
    }
    proc.listeners.add(listener);
    return () => proc.listeners.delete(listener);
  }

  request(method: string, path: string, headers: string[]): AppRequest {
    return this.http.request(method, path, headers);
  }
}

/** Fetch handlers already adapted, so that one handler always gets the same loopback server. */
const adapted = new WeakMap<object, http.RequestListener>();

function adapt(fetch: FetchHandler, key: object): http.RequestListener {
  let listener = adapted.get(key);
  if (listener === undefined) {
    listener = fetchListener(fetch);
    adapted.set(key, listener);
  }
  return listener;
}

export function appTarget(app: App, settings: TargetSettings): AppTarget {
  const idle = settings.keepAliveIdleMs;
  if (typeof app === 'function') {
    // One declared parameter: `(request) => Response`. Two or more: `(req, res[, next])`.
    if (app.length === 1) return new ListenerTarget(adapt(app as FetchHandler, app), 'in-process fetch handler');
    return new ListenerTarget(app as http.RequestListener);
  }
  if (app !== null && typeof app === 'object') {
    const fetch = (app as { fetch?: unknown }).fetch;
    if (typeof fetch === 'function') {
      return new ListenerTarget(adapt((req) => (fetch as FetchHandler).call(app, req), app), 'in-process fetch handler');
    }
    if (typeof (app as { callback?: unknown }).callback === 'function') {
      throw new TypeError('lambda-dispatch: createHandler got a Koa app: pass app.callback(), its request listener');
    }
    const known = new Set(['port', 'host', 'healthPath', 'command', 'cwd']);
    const unknown = Object.keys(app).filter((k) => !known.has(k));
    if (unknown.length === 0) return new PortTarget(app as PortApp, settings.healthIntervalMs, idle);
  }
  throw new TypeError(
    'lambda-dispatch: createHandler needs a request listener (req, res) => void, a fetch handler (request) => Response, an object with a fetch method, or { port }',
  );
}

/** Stops the processes started from `command` (SIGTERM to their process group) and waits for them. */
export async function stopAppProcesses(graceMs = 5000): Promise<void> {
  const all = [...appProcesses.values()];
  appProcesses.clear();
  await Promise.all(
    all.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exited !== null || p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
          const force = setTimeout(() => killProcess(p, 'SIGKILL'), graceMs);
          p.child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          killProcess(p);
        }),
    ),
  );
}

/**
 * Closes the in-process servers started for request listeners and their pooled connections, and
 * stops the processes started from `command`. Lambda
 * never needs this (the environment just ends); tests and long-lived workers shutting down do.
 */
export async function closeLocalServers(): Promise<void> {
  await stopAppProcesses();
  const all = [...localServers.values()];
  localServers.clear();
  await Promise.all(
    all.map(async (p) => {
      const local = await p.catch(() => null);
      if (local === null) return;
      local.pool.destroy();
      local.server.closeAllConnections();
      await new Promise<void>((r) => local.server.close(() => r()));
    }),
  );
}
