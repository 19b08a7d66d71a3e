// The dispatcher thread's entry: wires the rings, the control port, the invoker and the
// dispatcher together, and answers the main thread's control messages.

import { parentPort, workerData } from 'node:worker_threads';
import type { RouterConfig } from '../config.ts';
import { RingConsumer, RingProducer } from '../ring.ts';
import { RingWriter } from '../ring-writer.ts';
import { ChannelServer } from './channel-server.ts';
import { Dispatcher } from './dispatcher.ts';
import { Invoker } from './invoker.ts';
import type { ToIngress, ToDispatcher, DispatcherInit } from './messages.ts';

if (parentPort === null) throw new Error('core/dispatcher/thread.ts must run as a worker thread');
const port = parentPort;
const init = workerData as DispatcherInit;
const config: RouterConfig = init.config;
const post = (m: ToIngress) => port.postMessage(m);
const log = (line: string) => post({ type: 'log', line });

const requests = new RingConsumer(init.requestRing);
const responses = new RingWriter(new RingProducer(init.responseRing));
const invoker = new Invoker({
  functionName: config.functionName,
  region: config.region,
  endpoint: config.lambdaEndpoint,
  functionTimeoutMs: config.functionTimeoutMs,
});

// The port to put in the invoke payload is only known once we listen (it may be ephemeral).
let dispatcher: Dispatcher | undefined;
const server = new ChannelServer(
  {
    tokenFor: (id) => dispatcher?.tokenFor(id) ?? null,
    accept: (id, index, ws) => dispatcher?.accept(id, index, ws),
    rejected: (status, why) => dispatcher?.rejected(status, why),
    acceptWorker: (id, index, max, ws) => dispatcher?.acceptWorker(id, index, max, ws),
  },
  Math.max(1 << 20, responses.maxPayload + 64),
  config.workerSecret ? Buffer.from(config.workerSecret) : null,
);
const controlPort = await server.listen(config.controlPort, init.bindHost);
const d = new Dispatcher(
  {
    ...config,
    routerUrl: `ws://${config.callbackHost}:${controlPort}`,
    startTimeoutMs: 30_000,
    drainTimeoutMs: 30_000,
  },
  responses,
  (payload) => invoker.invoke(payload),
  Date.now,
  log,
);
dispatcher = d;
if (config.prewarmOnStart) d.prewarm();

// One bad record must cost one request, never the router: log it and go on.
const consuming = requests.run((type, slot, payload) => {
  try {
    d.onRecord(type, slot, payload);
  } catch (err) {
    log(`dispatcher: record type ${type} for slot ${slot} failed: ${(err as Error).stack ?? String(err)}`);
  }
});
const ticker = setInterval(() => d.tick(), 100);
const pinger = setInterval(() => d.ping(), config.pingIntervalMs);

async function shutdown(graceMs: number): Promise<void> {
  d.beginShutdown();
  d.refuseAll();
  const until = Date.now() + graceMs;
  while (!d.idle && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  d.terminateAll();
  clearInterval(ticker);
  clearInterval(pinger);
  requests.stop();
  await consuming;
  responses.close();
  await server.close();
  invoker.destroy();
  post({ type: 'stopped' });
  port.close();
}

port.on('message', (m: ToDispatcher) => {
  switch (m.type) {
    case 'status': {
      const mem = process.memoryUsage();
      post({ type: 'status', id: m.id, status: d.status(), memory: { heapUsedBytes: mem.heapUsed, arrayBuffersBytes: mem.arrayBuffers } });
      break;
    }
    case 'drain':
      d.beginShutdown();
      break;
    case 'shutdown':
      void shutdown(m.graceMs);
      break;
  }
});

post({ type: 'ready', controlPort });
