// `{ port }` as a target: any app in any language listening on its own, optionally started by the
// extension from `command` (child-process.ts), ready once `GET healthPath` answers 200
// (readiness.ts), reached over loopback HTTP through a keep-alive agent. Pooled connections idle
// longer than `keepAliveIdleMs` (or the app's announced keep-alive timeout less a second) are
// closed by our side, so that the app never closes one under a request.

import http from 'node:http';
import net from 'node:net';
import type { AppProcess } from './child-process.ts';
import { HTTP_200, readinessProbe, waitUntilReady, type ReadinessSettings } from './readiness.ts';
import type { AppRegistry } from './registry.ts';
import { upgradeRequest, type AppRequest, type AppTarget } from './target.ts';
import { envPort, type PortApp } from '../types.ts';

function newAgent(idleMs: number): http.Agent {
  // Unlimited sockets: concurrency is bounded by the router's maxConcurrent, not by the pool.
  // `timeout` closes a pooled socket idle this long (Node lowers it further to the server's
  // `keep-alive: timeout=N` hint less one second).
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, timeout: idleMs });
}

export class PortTarget implements AppTarget {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly healthPath: string;
  private readonly command: string | undefined;
  private readonly cwd: string | undefined;
  private proc: AppProcess | null = null;
  private starting: Promise<void> | null = null;
  readonly description: string;

  constructor(
    private readonly registry: AppRegistry,
    app: PortApp,
    private readonly intervalMs: number,
    idleMs: number,
    private readonly readiness: ReadinessSettings = HTTP_200,
  ) {
    const port = app.port ?? envPort();
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`lambda-dispatch: app port must be an integer in 1..65535, got ${port}`);
    }
    if (app.command !== undefined && (typeof app.command !== 'string' || app.command.trim() === '')) {
      throw new TypeError('lambda-dispatch: app command must be a non-empty string');
    }
    this.agent = newAgent(idleMs);
    this.host = app.host ?? '127.0.0.1';
    this.port = port;
    this.healthPath = app.healthPath ?? (process.env.LAMBDA_DISPATCH_HEALTH_PATH?.trim() || '/health');
    if (!this.healthPath.startsWith('/')) throw new RangeError(`lambda-dispatch: healthPath must start with /, got "${this.healthPath}"`);
    this.command = app.command;
    this.cwd = app.cwd;
    const fromEnv = process.env.LAMBDA_DISPATCH_PORT?.trim();
    if (app.port !== undefined && this.command !== undefined && fromEnv && Number(fromEnv) !== port) {
      // The local Lambda gives each execution environment its own LAMBDA_DISPATCH_PORT, since they
      // share one network; a port fixed in code cannot follow it (nothing can remap it short of a
      // network namespace), so a second environment's app would find it taken.
      console.warn(
        `lambda-dispatch: the app's port ${port} is set in code, so LAMBDA_DISPATCH_PORT=${fromEnv} does not apply to \`${app.command}\`. ` +
          'Where execution environments share one network (the local Lambda) only one of them can run it: omit `port` and let the app read PORT.',
      );
    }
    const authority = `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
    this.description = this.command !== undefined ? `\`${this.command}\` on ${authority}` : authority;
  }

  /** Starts the command (once), then checks readiness (readiness.ts) until it passes, for at most `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.command !== undefined && this.proc === null) await (this.starting ??= this.start(this.command));
    await waitUntilReady(readinessProbe(this.host, this.port, this.healthPath, this.readiness), {
      description: this.description,
      path: this.healthPath,
      readiness: this.readiness,
      timeoutMs,
      intervalMs: this.intervalMs,
      gone: () => this.proc?.exited ?? null,
    });
  }

  /**
   * Starts the command, unless something else already listens on the port: the app would then fail
   * to bind it (EADDRINUSE) while its health checks reach the other one.
   */
  private async start(command: string): Promise<void> {
    const ours = () => this.registry.started(command, this.port, this.cwd);
    if (ours() === undefined && (await listening(this.host, this.port)) && ours() === undefined) {
      this.starting = null;
      throw new Error(
        `lambda-dispatch: port ${this.port} is already in use, so \`${command}\` could not listen on it. ` +
          'Under the local Lambda every execution environment shares this machine\'s network: each gets its own ' +
          'LAMBDA_DISPATCH_PORT and PORT, which a port set in code overrides — omit `port` and let the app read PORT.',
      );
    }
    this.proc ??= this.registry.process(command, this.port, this.cwd);
  }

  onExit(listener: (why: string) => void): () => void {
    return this.proc === null ? () => {} : this.proc.onExit(listener);
  }

  upgrade(method: string, path: string, headers: string[]): http.ClientRequest {
    return upgradeRequest(this.host, this.port, method, path, headers);
  }

  request(method: string, path: string, headers: string[]): AppRequest {
    return http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }) as unknown as AppRequest;
  }
}

/** Whether something accepts connections on host:port (refused, or no answer in 1 s: no). */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (yes: boolean) => {
      socket.destroy();
      resolve(yes);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
