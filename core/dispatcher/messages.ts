// Control messages between the router's main thread and the dispatcher worker (MessagePort):
// everything that is not on the request path.

import type { RouterConfig } from '../config.ts';
import type { StatusSnapshot } from './dispatcher.ts';

export interface WorkerInit {
  config: RouterConfig;
  bindHost: string;
  requestRing: SharedArrayBuffer;
  responseRing: SharedArrayBuffer;
}

export type ToWorker = { type: 'status'; id: number } | { type: 'shutdown'; graceMs: number };

export type ToMain =
  | { type: 'ready'; controlPort: number }
  | { type: 'status'; id: number; status: StatusSnapshot }
  | { type: 'log'; line: string }
  | { type: 'stopped' };
