// The dispatcher thread's entry: the dispatcher (host.ts) with the worker's parentPort as its
// control link.

import { parentPort, workerData } from 'node:worker_threads';
import { hostDispatcher } from './host.ts';
import type { DispatcherInit } from './messages.ts';

if (parentPort === null) throw new Error('core/dispatcher/thread.ts must run as a worker thread');
await hostDispatcher(parentPort, workerData as DispatcherInit);
