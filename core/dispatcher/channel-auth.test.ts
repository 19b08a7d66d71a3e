// Channel authentication on the control port, with a real Dispatcher, real sockets and a real
// ring; the invoke is captured instead of sent so the test can play the extension itself.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { FLAG_END, decodeFrame, encodeFrame, requestHeadSize, writeRequestHead, asBuffer } from '../frames.ts';
import { Rec } from '../records.ts';
import { RingConsumer, RingProducer, createRingBuffer } from '../ring.ts';
import { RingWriter } from '../ring-writer.ts';
import { CHANNEL_HEADER, CHANNEL_PATH, INSTANCE_HEADER, MAX_CONCURRENT_HEADER, WORKER_HEADER } from '../protocol.ts';
import { ChannelServer } from './channel-server.ts';
import { Dispatcher } from './dispatcher.ts';
import type { InvokeOutcome, InvokePayload } from './invoker.ts';

let server: ChannelServer;
let dispatcher: Dispatcher;
let port: number;
let clock = 1_000_000;
const WORKER_SECRET = 'a-worker-secret-of-some-length';
const invokes: { payload: InvokePayload; end: (o: InvokeOutcome) => void }[] = [];
const responses = createRingBuffer(1 << 16);
const consumer = new RingConsumer(responses);

before(async () => {
  let d: Dispatcher | undefined;
  server = new ChannelServer(
    {
      tokenFor: (id) => d!.tokenFor(id),
      accept: (id, i, ws) => d!.accept(id, i, ws),
      acceptWorker: (id, i, max, ws) => d!.acceptWorker(id, i, max, ws),
      rejected: () => {},
    },
    1 << 20,
    Buffer.from(WORKER_SECRET),
  );
  port = await server.listen(0, '127.0.0.1');
  d = dispatcher = new Dispatcher(
    {
      routerUrl: `ws://127.0.0.1:${port}`,
      channelCount: 2,
      maxConcurrent: 2,
      instanceCountMultiplier: 1,
      scalingAlgorithm: 'simple',
      minInstances: 0,
      maxInstances: 10,
      scaleOutIntervalMs: 2000,
      scaleInIntervalMs: 5000,
      queueTimeoutMs: 10_000,
      maxPending: 100,
      pingIntervalMs: 1000,
      windowBytes: 1 << 16,
      startTimeoutMs: 10_000,
      drainTimeoutMs: 10_000,
      replacementWaitMs: 1000,
    },
    new RingWriter(new RingProducer(responses)),
    (payload) => new Promise((end) => invokes.push({ payload, end })),
    () => clock,
  );
});

after(async () => {
  for (const i of invokes) i.end({ kind: 'returned', exitReason: 'goaway', requests: 0 });
  await server.close();
});

function connectWorker(secret: string): Promise<{ ws?: WebSocket; status: number; first?: Promise<Buffer> }> {
  return open({ authorization: `Bearer ${secret}`, [WORKER_HEADER]: 'box-1', [CHANNEL_HEADER]: '0', [MAX_CONCURRENT_HEADER]: '4' });
}

function connect(instanceId: string, token: string): Promise<{ ws?: WebSocket; status: number; first?: Promise<Buffer> }> {
  return open({ authorization: `Bearer ${token}`, [INSTANCE_HEADER]: instanceId, [CHANNEL_HEADER]: '0' });
}

function open(headers: Record<string, string>): Promise<{ ws?: WebSocket; status: number; first?: Promise<Buffer> }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${CHANNEL_PATH}`, { perMessageDeflate: false, headers });
    // The first frame can arrive in the same packet as the 101: listen before 'open'.
    const first = new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
    ws.once('open', () => resolve({ ws, status: 101, first }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
    });
    ws.once('error', () => resolve({ status: -1 }));
  });
}

function enqueueGet(slot: number): void {
  const head = { method: 'GET', target: '/ping', headers: ['host', 'x'] };
  dispatcher.onRecord(
    Rec.REQUEST_HEAD,
    slot,
    (() => {
      const b = Buffer.alloc(1 + requestHeadSize(head));
      b[0] = FLAG_END;
      writeRequestHead(asBuffer(b), 1, head);
      return b;
    })(),
  );
}

test('a request starts an instance; a bad token gets 401 and no request, the right one gets it', async () => {
  enqueueGet(0);
  assert.equal(invokes.length, 1, 'one invoke for one waiting request');
  const { payload } = invokes[0]!;
  assert.equal(payload.v, 1);
  assert.equal(payload.routerUrl, `ws://127.0.0.1:${port}`);

  const bad = await connect(payload.instanceId, payload.token.slice(0, -1) + (payload.token.endsWith('A') ? 'B' : 'A'));
  assert.equal(bad.status, 401);
  assert.equal(dispatcher.status().pending, 1, 'nothing was dispatched to the impostor');

  const unknown = await connect('no-such-instance', payload.token);
  assert.equal(unknown.status, 409);

  const good = await connect(payload.instanceId, payload.token);
  assert.equal(good.status, 101);
  const frame = await good.first!;
  const f = decodeFrame(frame);
  assert.equal(f.type, 'req-head');
  assert.ok(f.type === 'req-head' && f.head.target === '/ping' && f.end);
  assert.equal(dispatcher.status().pending, 0);
  assert.equal(dispatcher.status().instances.open, 1);
  good.ws!.close();
  await new Promise((r) => setTimeout(r, 100));
  // A GET with no body whose instance vanished before answering goes back to the queue, once.
  const s = dispatcher.status();
  assert.equal(s.requests.retried, 1);
  assert.equal(s.pending, 1);
  assert.equal(s.inFlight, 0);

  // The instance that lost all its channels is gone; the scaler starts another for the request.
  assert.equal((await connect(payload.instanceId, payload.token)).status, 409);
  clock += 3000;
  dispatcher.tick();
  assert.equal(invokes.length, 2);
  const second = invokes[1]!.payload;
  // Its second instance dies as well: now the client gets a 502 through the ring.
  const again = await connect(second.instanceId, second.token);
  assert.equal(again.status, 101);
  assert.equal(decodeFrame(await again.first!).type, 'req-head');
  again.ws!.close();
  await new Promise((r) => setTimeout(r, 100));
  const seen: number[] = [];
  consumer.drain((type) => seen.push(type));
  assert.deepEqual(seen, [Rec.RESPONSE_ERROR]);
  const t = dispatcher.status();
  assert.equal(t.pending, 0);
  assert.equal(t.inFlight, 0);
  assert.equal(t.requests.failed, 1);
});

test('a container worker with the shared secret is used before any Lambda is invoked', async () => {
  assert.equal((await connectWorker('not-the-secret')).status, 401);
  const worker = await connectWorker(WORKER_SECRET);
  assert.equal(worker.status, 101);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(dispatcher.status().workers, { connected: 1, busy: 0 });
  const invokesBefore = invokes.length;
  clock += 3000;
  enqueueGet(1);
  const f = decodeFrame(await worker.first!);
  assert.ok(f.type === 'req-head');
  assert.equal(invokes.length, invokesBefore, 'no Lambda invoked while a worker has room');
  assert.equal(dispatcher.status().workers.busy, 1);
  worker.ws!.send(encodeFrame({ type: 'res-head', id: f.id, head: { status: 200, headers: ['content-type', 'text/plain'] }, end: true, body: Buffer.from('pong') }));
  await new Promise((r) => setTimeout(r, 100));
  const seen: number[] = [];
  consumer.drain((type) => seen.push(type));
  assert.deepEqual(seen, [Rec.RESPONSE_HEAD, Rec.RESPONSE_END]);
  worker.ws!.close();
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(dispatcher.status().workers, { connected: 0, busy: 0 });
  assert.equal(dispatcher.status().inFlight, 0);
});

test('a malformed frame closes that channel with a protocol error and its request is answered', async () => {
  const worker = await connectWorker(WORKER_SECRET);
  assert.equal(worker.status, 101);
  enqueueGet(2);
  const f = decodeFrame(await worker.first!);
  assert.ok(f.type === 'req-head');
  const closed = new Promise<number>((r) => worker.ws!.once('close', (code) => r(code)));
  worker.ws!.send(Buffer.from([0xee, 0, 0, 0, 0, 1, 2, 3])); // unknown frame type
  assert.equal(await closed, 1002);
  await new Promise((r) => setTimeout(r, 50));
  const s = dispatcher.status();
  assert.equal(s.inFlight, 0);
  // A GET with no body is retried once: it waits for the next instance rather than failing.
  assert.equal(s.pending, 1);
  assert.equal(s.requests.retried, 2);
  dispatcher.onRecord(Rec.REQUEST_ABORT, 2, new Uint8Array(0));
  assert.equal(dispatcher.status().pending, 0);
});
