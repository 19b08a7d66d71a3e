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

export type ToDispatcher = { type: 'status'; id: number } | { type: 'shutdown'; graceMs: number };

export type ToIngress =
  /** certSha256: the control port's certificate pin, null when it serves plain ws://. */
  | { type: 'ready'; controlPort: number; certSha256: string | null }
  | { type: 'status'; id: number; status: StatusSnapshot }
  | { type: 'log'; line: string }
  | { type: 'stopped' };
