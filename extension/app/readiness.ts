// When a `{ port }` app is ready: `GET healthPath` answered 200, polled within a time budget. On
// its own (and apart from how the app is started) so that the waiting rules can be tested without
// a process, and so that "not ready in time" is a typed error: async init lets a slow app go on
// waiting in the first invocation, but only a slow one, never an app that failed.

import http from 'node:http';

/** The app did not answer its health check with 200 in time (it may still become ready). */
export class AppNotReadyError extends Error {
  readonly code = 'ERR_APP_NOT_READY';

  constructor(message: string) {
    super(message);
    this.name = 'AppNotReadyError';
  }
}

/** One health check: the status it got, or why it got none. */
export type Probe = (timeoutMs: number) => Promise<number | Error>;

/** `GET path` on a fresh connection (the pool only ever holds sockets of real requests). */
export function httpProbe(host: string, port: number, path: string): Probe {
  return (timeoutMs) =>
    new Promise((resolve) => {
      const req = http.get({ host, port, path, agent: false, timeout: timeoutMs }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', (err) => resolve(err));
    });
}

export interface ReadinessWait {
  /** For the message: where the app is, e.g. `` `npm start` on 127.0.0.1:3001 ``. */
  description: string;
  /** For the message: the health path probed. */
  path: string;
  timeoutMs: number;
  /** Pause between probes. */
  intervalMs: number;
  /** Why the app can never become ready (its process exited), or null while it still may. */
  gone(): string | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Probes until one answers 200. Rejects with AppNotReadyError when `timeoutMs` passes first, or
 * with the reason `gone()` gives once the app cannot become ready at all.
 */
export async function waitUntilReady(probe: Probe, w: ReadinessWait): Promise<void> {
  const until = Date.now() + w.timeoutMs;
  let last = 'no probe made';
  for (;;) {
    const gone = w.gone();
    if (gone !== null) throw new Error(gone);
    const left = until - Date.now();
    const r = await probe(Math.max(1, Math.min(1000, left)));
    if (r === 200) return;
    last = r instanceof Error ? r.message : `status ${r}`;
    if (Date.now() + w.intervalMs > until) break;
    await sleep(w.intervalMs);
  }
  const gone = w.gone();
  if (gone !== null) throw new Error(gone);
  throw new AppNotReadyError(
    `the app at ${w.description} did not answer GET ${w.path} with 200 within ${Math.round(w.timeoutMs)} ms (last: ${last})`,
  );
}
