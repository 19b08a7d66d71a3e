// A Dispatcher on a real control port with a fake clock and captured invokes, for tests that play
// the extension's side of the channels themselves.

import { WebSocket } from 'ws';
import { FLAG_END, asBuffer, decodeFrame, requestHeadSize, writeRequestHead, type Frame } from '../frames.ts';
import { CHANNEL_HEADER, CHANNEL_PATH, COLD_START_HEADER, FEATURES_HEADER, INSTANCE_HEADER, MAX_CONCURRENT_HEADER, WORKER_HEADER } from '../protocol.ts';
import { Rec } from '../records.ts';
import { RingConsumer, RingProducer, createRingBuffer } from '../ring.ts';
import { RingWriter } from '../ring-writer.ts';
import { ChannelServer } from './channel-server.ts';
import { Dispatcher, type DispatcherSettings } from './dispatcher.ts';
import type { LifecycleEvent } from './events.ts';
import type { InvokeOutcome, InvokePayload } from './invoker.ts';

export interface Opened {
  ws?: WebSocket;
  status: number;
  /** The first frame; it can arrive in the same packet as the 101, so it is caught before 'open'. */
  first?: Promise<Buffer>;
  /** Every frame received so far, decoded. */
  frames: Frame[];
}

export interface Harness {
  dispatcher: Dispatcher;
  port: number;
  invokes: { payload: InvokePayload; end: (o: InvokeOutcome) => void }[];
  clock: { now: number };
  /** The lifecycle events the dispatcher emitted, in order. */
  events: LifecycleEvent[];
  /** coldStart: send the handshake's cold-start header. */
  /** `hello`: the optional handshake headers, a cold start and the extension's features. */
  connect(instanceId: string, token: string, index?: number, hello?: { coldStart?: boolean; features?: string }): Promise<Opened>;
  connectWorker(secret: string, id?: string, index?: number): Promise<Opened>;
  enqueueGet(slot: number, target?: string): void;
  /** Record types the dispatcher wrote to ingress since the last call. */
  drainRing(): number[];
  close(): Promise<void>;
}

export const WORKER_SECRET = 'a-worker-secret-of-some-length';

export async function startHarness(overrides: Partial<DispatcherSettings> = {}): Promise<Harness> {
  const clock = { now: 1_000_000 };
  const invokes: Harness['invokes'] = [];
  const events: LifecycleEvent[] = [];
  const responses = createRingBuffer(1 << 16);
  const consumer = new RingConsumer(responses);
  let d: Dispatcher | undefined;
  const server = new ChannelServer(
    {
      tokenFor: (id) => d!.tokenFor(id),
      accept: (id, i, ws, hello) => d!.accept(id, i, ws, hello),
      acceptWorker: (id, i, max, ws, up) => d!.acceptWorker(id, i, max, ws, up),
      rejected: () => {},
    },
    1 << 20,
    Buffer.from(WORKER_SECRET),
  );
  const port = await server.listen(0, '127.0.0.1');
  d = new Dispatcher(
    {
      routerUrl: `ws://127.0.0.1:${port}`,
      channelCount: 2,
      maxSocketsPerInstance: 1,
      minConcurrentCount: 2,
      maxConcurrentCount: 2,
      instanceCountMultiplier: 1,
      scalingAlgorithm: 'simple',
      minInstances: 0,
      maxInstances: 10,
      scaleOutIntervalMs: 2000,
      scaleInIntervalMs: 5000,
      idleReleaseMs: 5000,
      incomingRequestTimeoutMs: 10_000,
      maxPendingRequests: 100,
      windowBytes: 1 << 16,
      startTimeoutMs: 10_000,
      drainTimeoutMs: 10_000,
      replacementWaitMs: 1000,
      abortAckMs: 2000,
      ...overrides,
    },
    new RingWriter(new RingProducer(responses)),
    (payload) => new Promise((end) => invokes.push({ payload, end })),
    () => clock.now,
    () => {},
    (e) => events.push(e),
  );
  const dispatcher = d;
  const sockets: WebSocket[] = [];

  function open(headers: Record<string, string>): Promise<Opened> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${CHANNEL_PATH}`, { perMessageDeflate: false, headers });
      sockets.push(ws);
      const frames: Frame[] = [];
      ws.on('message', (data: Buffer) => frames.push(decodeFrame(data)));
      const first = new Promise<Buffer>((r) => ws.once('message', (data: Buffer) => r(data)));
      ws.once('open', () => resolve({ ws, status: 101, first, frames }));
      ws.once('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode ?? 0, frames });
        res.resume();
      });
      ws.once('error', () => resolve({ status: -1, frames }));
    });
  }

  return {
    dispatcher,
    port,
    invokes,
    clock,
    events,
    connect: (instanceId, token, index = 0, hello = {}) =>
      open({
        authorization: `Bearer ${token}`,
        [INSTANCE_HEADER]: instanceId,
        [CHANNEL_HEADER]: String(index),
        ...(hello.coldStart === true ? { [COLD_START_HEADER]: '1' } : {}),
        ...(hello.features !== undefined ? { [FEATURES_HEADER]: hello.features } : {}),
      }),
    connectWorker: (secret, id = 'box-1', index = 0) =>
      open({ authorization: `Bearer ${secret}`, [WORKER_HEADER]: id, [CHANNEL_HEADER]: String(index), [MAX_CONCURRENT_HEADER]: '4' }),
    enqueueGet(slot, target = '/ping') {
      const head = { method: 'GET', target, headers: ['host', 'x'] };
      const b = Buffer.alloc(1 + requestHeadSize(head));
      b[0] = FLAG_END;
      writeRequestHead(asBuffer(b), 1, head);
      dispatcher.onRecord(Rec.REQ_HEAD, slot, b);
    },
    drainRing() {
      const seen: number[] = [];
      consumer.drain((type) => seen.push(type));
      return seen;
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      for (const i of invokes) i.end({ kind: 'returned', exitReason: 'goaway', requests: 0 });
      await server.close();
    },
  };
}

export const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));
