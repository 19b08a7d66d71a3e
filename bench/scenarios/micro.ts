// micro: records per second from the main thread to a worker thread through the SAB ring
// (core/ring.ts) versus MessagePort.postMessage, for 64 B, 1 KB and 16 KB records; the channel
// protocol's frame encode/decode; and a TLS WebSocket's CPU per message, alone or batched
// (tls-batching.ts). tinybench times whole batches (each ends when the
// worker has acknowledged the batch's last record), so a figure is records that crossed threads.

import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { RingProducer, createRingBuffer } from '../../core/ring.ts';
import { decodeFrame, encodeFrame, type Frame } from '../../core/frames.ts';
import type { MicroWorkerData } from '../micro-worker.ts';
import { measureTlsBatching, type TlsBatching } from './tls-batching.ts';

export interface MicroResult {
  batch: number;
  sizes: { bytes: number; ringPerS: number; portPerS: number; ratio: number }[];
  frames: { encodePerS: number; decodePerS: number; headBytes: number };
  /** CPU per message of a TLS WebSocket, one message per write against 16 (tls-batching.ts). */
  tlsBatching?: TlsBatching[];
}

const WORKER = fileURLToPath(new URL('../micro-worker.mjs', import.meta.url));
const SIZES = [64, 1024, 16 * 1024];

interface Consumer {
  worker: Worker;
  /** Resolves when the worker has counted `n` records in all. */
  reached(n: number): Promise<void>;
  stop(): Promise<void>;
}

async function startConsumer(data: MicroWorkerData): Promise<Consumer> {
  const worker = new Worker(WORKER, { workerData: data });
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: number | string) => {
      if (m === 'ready') return resolve();
      count = m as number;
      for (let i = waiters.length - 1; i >= 0; i--) if (count >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve();
    });
  });
  return {
    worker,
    reached: (n) => (count >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    stop: async () => {
      worker.postMessage('stop');
      await Promise.race([new Promise((r) => worker.once('exit', r)), new Promise((r) => setTimeout(r, 1000))]);
      await worker.terminate();
    },
  };
}

function payload(bytes: number): Uint8Array {
  const p = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) p[i] = i & 0xff;
  return p;
}

export async function runMicro(o: { quick: boolean; log: (s: string) => void }): Promise<MicroResult> {
  const batch = o.quick ? 2_000 : 10_000;
  const benchOpts = { time: o.quick ? 300 : 1500, iterations: o.quick ? 5 : 10, warmupTime: o.quick ? 50 : 200, warmupIterations: 2 };
  const sizes: MicroResult['sizes'] = [];
  for (const bytes of SIZES) {
    const data = payload(bytes);
    const sab = createRingBuffer(4 * 1024 * 1024);
    const producer = new RingProducer(sab);
    const ring = await startConsumer({ mode: 'ring', sab, batch });
    const port = await startConsumer({ mode: 'port', batch });
    let ringSent = 0;
    let portSent = 0;
    const bench = new Bench({ name: `micro ${bytes} B`, ...benchOpts });
    bench.add(`ring ${bytes} B`, async () => {
      for (let i = 0; i < batch; i++) {
        while (!producer.tryWrite(2, i, data)) await producer.waitForSpace();
      }
      ringSent += batch;
      await ring.reached(ringSent);
    });
    bench.add(`MessagePort ${bytes} B`, async () => {
      for (let i = 0; i < batch; i++) port.worker.postMessage(data);
      portSent += batch;
      await port.reached(portSent);
    });
    await bench.run();
    const perS = (name: string) => {
      const t = bench.tasks.find((x) => x.name === name);
      const r = t?.result;
      return r && 'period' in r && r.period > 0 ? batch / (r.period / 1000) : 0;
    };
    const ringPerS = perS(`ring ${bytes} B`);
    const portPerS = perS(`MessagePort ${bytes} B`);
    sizes.push({ bytes, ringPerS, portPerS, ratio: portPerS > 0 ? ringPerS / portPerS : 0 });
    o.log(`micro ${bytes} B: ring ${Math.round(ringPerS)} rec/s, MessagePort ${Math.round(portPerS)} msg/s`);
    await ring.stop();
    await port.stop();
  }

  // A typical request head: what ingress writes per request and the dispatcher relays.
  const frame: Frame = {
    type: 'req-head',
    id: 12345,
    end: true,
    body: null,
    head: {
      method: 'GET',
      target: '/api/items?page=2&sort=desc',
      headers: [
        'host', 'app.example.com',
        'user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
        'accept', 'application/json',
        'accept-encoding', 'gzip, deflate, br',
        'accept-language', 'en-GB,en;q=0.9',
        'cookie', 'session=0123456789abcdef0123456789abcdef; theme=dark',
        'x-forwarded-for', '203.0.113.7',
        'x-forwarded-proto', 'https',
      ],
    },
  };
  const encoded = encodeFrame(frame);
  const frames = new Bench({ name: 'frames', time: o.quick ? 200 : 1000, warmupTime: 50 });
  let sink = 0;
  frames.add('encode', () => {
    sink += encodeFrame(frame).length;
  });
  frames.add('decode', () => {
    const f = decodeFrame(encoded);
    if (f.type === 'req-head') sink += f.head.headers.length;
  });
  await frames.run();
  const opsPerS = (name: string) => {
    const r = frames.tasks.find((x) => x.name === name)?.result;
    return r && 'period' in r && r.period > 0 ? 1000 / r.period : 0;
  };
  if (sink < 0) o.log(String(sink));
  const tlsBatching = await measureTlsBatching(o.quick);
  o.log(`micro TLS WebSocket: ${tlsBatching.map((t) => `${t.usPerMessage} µs per message at ${t.batch} per write`).join(', ')}`);
  return { batch, sizes, frames: { encodePerS: opsPerS('encode'), decodePerS: opsPerS('decode'), headBytes: encoded.length }, tlsBatching };
}
