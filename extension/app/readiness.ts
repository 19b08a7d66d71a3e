// When a `{ port }` app is ready, polled within a time budget: by HTTP (`GET healthPath` answers a
// healthy status: 200 unless LAMBDA_DISPATCH_HealthyStatus says more) or by TCP (the port accepts a
// connection, for apps with no health route), the two checks AWS Lambda Web Adapter offers. On its
// own (and apart from how the app is started) so that the waiting rules can be tested without a
// process, and so that "not ready in time" is a typed error: async init lets a slow app go on
// waiting in the first invocation, but only a slow one, never an app that failed.

import http from 'node:http';
import net from 'node:net';
import { describeStatuses, statusMatches, type StatusRanges } from '../../core/settings/env.ts';

/** The app did not pass its readiness check in time (it may still become ready). */
export class AppNotReadyError extends Error {
  readonly code = 'ERR_APP_NOT_READY';

  constructor(message: string) {
    super(message);
    this.name = 'AppNotReadyError';
  }
}

/** How readiness is checked (ExtensionOptions.readinessProtocol and .healthyStatus). */
export interface ReadinessSettings {
  readinessProtocol: 'http' | 'tcp';
  healthyStatus: StatusRanges;
}

export const HTTP_200: ReadinessSettings = Object.freeze({ readinessProtocol: 'http', healthyStatus: Object.freeze([Object.freeze([200, 200] as const)]) });

/** One check: null when it passed, else why not (`status 503`, `connect ECONNREFUSED …`). */
export type Probe = (timeoutMs: number) => Promise<string | null>;

/** `GET path` on a fresh connection (the pool only ever holds sockets of real requests). */
export function httpProbe(host: string, port: number, path: string, healthy: StatusRanges = HTTP_200.healthyStatus): Probe {
  return (timeoutMs) =>
    new Promise((resolve) => {
      const req = http.get({ host, port, path, agent: false, timeout: timeoutMs }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(statusMatches(healthy, status) ? null : `status ${status}`);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', (err) => resolve(err.message));
    });
}

/** A TCP connection to `host:port`, closed as soon as it is made. */
export function tcpProbe(host: string, port: number): Probe {
  return (timeoutMs) =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      const done = (why: string | null) => {
        socket.destroy();
        resolve(why);
      };
      socket.setTimeout(timeoutMs, () => done(`no connection in ${timeoutMs} ms`));
      socket.once('connect', () => done(null));
      socket.once('error', (err) => done(err.message));
    });
}

/** The probe the settings ask for. */
export function readinessProbe(host: string, port: number, path: string, r: ReadinessSettings = HTTP_200): Probe {
  return r.readinessProtocol === 'tcp' ? tcpProbe(host, port) : httpProbe(host, port, path, r.healthyStatus);
}

/** For messages: what passing the check takes, e.g. `answer GET /health with 200`. */
export function readinessCheck(path: string, r: ReadinessSettings = HTTP_200): string {
  return r.readinessProtocol === 'tcp' ? 'accept a TCP connection' : `answer GET ${path} with ${describeStatuses(r.healthyStatus)}`;
}

export interface ReadinessWait {
  /** For the message: where the app is, e.g. `` `npm start` on 127.0.0.1:3001 ``. */
  description: string;
  /** For the message: the health path probed. */
  path: string;
  /** For the message: the check made. Default: HTTP, 200. */
  readiness?: ReadinessSettings;
  timeoutMs: number;
  /** Pause between probes. */
  intervalMs: number;
  /** Why the app can never become ready (its process exited), or null while it still may. */
  gone(): string | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Probes until one passes. Rejects with AppNotReadyError when `timeoutMs` passes first, or
 * with the reason `gone()` gives once the app cannot become ready at all.
 */
export async function waitUntilReady(probe: Probe, w: ReadinessWait): Promise<void> {
  const until = Date.now() + w.timeoutMs;
  let last = 'no probe made';
  for (;;) {
    const gone = w.gone();
    if (gone !== null) throw new Error(gone);
    const left = until - Date.now();
    const why = await probe(Math.max(1, Math.min(1000, left)));
    if (why === null) return;
    last = why;
    if (Date.now() + w.intervalMs > until) break;
    await sleep(w.intervalMs);
  }
  const gone = w.gone();
  if (gone !== null) throw new Error(gone);
  throw new AppNotReadyError(
    `the app at ${w.description} did not ${readinessCheck(w.path, w.readiness)} within ${Math.round(w.timeoutMs)} ms (last: ${last})`,
  );
}
