// The consuming side of the micro-benchmark, on its own thread as the dispatcher is: counts
// records from a SharedArrayBuffer ring or messages from its MessagePort, and acknowledges every
// `batch` of them with one message so the producer can time whole batches.

import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../core/ring.ts';

export interface MicroWorkerData {
  mode: 'ring' | 'port';
  sab?: SharedArrayBuffer;
  batch: number;
}

const port = parentPort!;
const opts = workerData as MicroWorkerData;
let count = 0;
let bytes = 0;

if (opts.mode === 'ring') {
  const consumer = new RingConsumer(opts.sab!);
  void consumer.run((_type, _slot, payload) => {
    // Touch the payload as a real consumer would (the dispatcher copies it out or onto a socket).
    bytes += payload[payload.length - 1] ?? 0;
    if (++count % opts.batch === 0) port.postMessage(count);
  });
  // The listener keeps the worker alive while run() sleeps in Atomics.waitAsync.
  port.on('message', (m: string) => {
    if (m === 'stop') {
      consumer.stop();
      port.close();
    }
  });
} else {
  port.on('message', (m: Uint8Array | string) => {
    if (m === 'stop') return port.close();
    bytes += (m as Uint8Array)[(m as Uint8Array).length - 1] ?? 0;
    if (++count % opts.batch === 0) port.postMessage(count);
  });
}
port.postMessage('ready');
