// Control messages between the router's main thread and the dispatcher thread (MessagePort):
// everything that is not on the request path.

import type { RouterConfig } from '../config.ts';
import type { StatusSnapshot } from './status.ts';

export interface DispatcherInit {
  config: RouterConfig;
  bindHost: string;
  requestRing: SharedArrayBuffer;
  responseRing: SharedArrayBuffer;
}

/**
 * `drain`: SIGTERM arrived; ingress takes no new request (Dispatcher.beginShutdown). `shutdown`:
 * ingress is done; refuse everything, let instances leave within graceMs, then exit.
 */
export type ToDispatcher = { type: 'status'; id: number } | { type: 'drain' } | { type: 'shutdown'; graceMs: number };

/** The dispatcher thread's own isolate (process.memoryUsage() in a worker counts only its heap). */
export interface ThreadMemory {
  heapUsedBytes: number;
  arrayBuffersBytes: number;
}

export type ToIngress =
  /** certSha256: the control port's certificate pin, null when it serves plain ws://. */
  | { type: 'ready'; controlPort: number; certSha256: string | null }
  | { type: 'status'; id: number; status: StatusSnapshot; memory: ThreadMemory }
  | { type: 'log'; line: string }
  | { type: 'stopped' };
