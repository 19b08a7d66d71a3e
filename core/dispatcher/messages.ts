// Control messages between the router's main thread and the dispatcher thread (MessagePort):
// everything that is not on the request path.

import type { RouterConfig } from '../config.ts';
import type { EventLoopWindow } from '../event-loop-stats.ts';
import type { LifecycleEvent } from './events.ts';
import type { StatusSnapshot } from './status.ts';

export interface DispatcherInit {
  config: RouterConfig;
  bindHost: string;
  requestRing: SharedArrayBuffer;
  responseRing: SharedArrayBuffer;
  /** The dispatcher runs on the router's main thread (ingress/dispatcher-thread.ts). */
  sameThread?: boolean;
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

/** One thread's memory and event loop, as the status page and /metrics show each thread. */
export interface ThreadStats extends ThreadMemory {
  eventLoop: EventLoopWindow;
}

export type ToIngress =
  /** certSha256: the control port's certificate pin, null when it serves plain ws://. */
  | { type: 'ready'; controlPort: number; certSha256: string | null }
  | { type: 'status'; id: number; status: StatusSnapshot; thread: ThreadStats }
  /** A diagnostic line (a channel's protocol error, a refused upgrade…). */
  | { type: 'log'; level: 'info' | 'warn' | 'error'; line: string }
  | { type: 'event'; event: LifecycleEvent }
  | { type: 'stopped' };
