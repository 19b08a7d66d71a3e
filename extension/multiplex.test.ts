// The extension's side of a multiplexed channel, against a test router that names `mux` and plays
// the credits by hand: requests served at once on one channel, a response held to its credit even
// when the app writes it all at once, and request bodies credited as the app takes them.

import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, test } from 'node:test';
import type { Frame } from '../core/frames.ts';
import { CHANNEL_FEATURES, MUX_CREDIT_BATCH, MUX_WINDOW_BYTES } from '../core/protocol.ts';
import { closeLocalServers, createHandler } from './handler.ts';
import { TestRouter, contextFor, type TestChannel } from './test-router.ts';

after(() => closeLocalServers());

const SIZE = 3 * 1024 * 1024;

const app: http.RequestListener = (req, res) => {
  if (req.url === '/big') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': SIZE });
    res.end(Buffer.alloc(SIZE, 1)); // one write of the whole body
    return;
  }
  if (req.url?.startsWith('/slow')) {
    setTimeout(() => res.end('slow'), 200);
    return;
  }
  if (req.url === '/count') {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(String(n)));
    return;
  }
  res.end('pong');
};

async function serve(fn: (ch: TestChannel) => Promise<void>): Promise<void> {
  const router = await new TestRouter({ features: CHANNEL_FEATURES }).start();
  const run = createHandler(app, { log: () => {}, accessLogSample: 0 })(router.payload({ channels: 1, maxConcurrent: 8 }), contextFor(60_000));
  try {
    const [ch] = await router.open(1);
    await fn(ch!);
  } finally {
    await router.close();
    await run.catch(() => {});
  }
}

/** Frames until `done` says so, or until none comes for `quietMs`. */
async function collect(ch: TestChannel, done: (f: Frame) => boolean, quietMs = 300): Promise<Frame[]> {
  const out: Frame[] = [];
  for (;;) {
    let f: Frame;
    try {
      f = await ch.next(quietMs);
    } catch {
      return out;
    }
    out.push(f);
    if (done(f)) return out;
  }
}

const bodyBytes = (frames: Frame[], id: number) => frames.reduce((n, f) => n + (f.type === 'res-body' && f.id === id ? f.body.length : 0), 0);

test('several requests at once on one channel, answered as each is ready', async () => {
  await serve(async (ch) => {
    ch.request(1, 'GET', '/slow', ['host', 'x']);
    ch.request(2, 'GET', '/ping', ['host', 'x']);
    const frames = await collect(ch, (f) => f.type === 'res-head' && f.id === 1, 2000);
    const answered = frames.filter((f) => f.type === 'res-head').map((f) => (f as { id: number }).id);
    assert.deepEqual(answered, [2, 1], 'the quick one first, on the same channel');
    assert.ok(!frames.some((f) => f.type === 'res-error'), 'no "channel busy"');
  });
});

test('one large write of the app goes out a window at a time, its end after the last byte', async () => {
  await serve(async (ch) => {
    ch.request(1, 'GET', '/big', ['host', 'x']);
    let frames = await collect(ch, (f) => f.type === 'res-end');
    const head = frames.find((f) => f.type === 'res-head') as Extract<Frame, { type: 'res-head' }>;
    const inline = head.body?.length ?? 0;
    const first = bodyBytes(frames, 1);
    assert.ok(first >= MUX_WINDOW_BYTES - 64 * 1024 && first <= MUX_WINDOW_BYTES + 64 * 1024, `${first} bytes before any credit`);
    assert.ok(!frames.some((f) => f.type === 'res-end'), 'no end while bytes are held');
    let total = first;
    while (total + inline < SIZE) {
      ch.send({ type: 'credit', id: 1, bytes: MUX_WINDOW_BYTES });
      frames = await collect(ch, (f) => f.type === 'res-end');
      total += bodyBytes(frames, 1);
      if (frames.some((f) => f.type === 'res-end')) break;
    }
    assert.equal(total + inline, SIZE, 'every byte, once');
    assert.equal(frames.at(-1)!.type, 'res-end');
  });
});

test('request body bytes are credited back as the app takes them, a batch at a time', async () => {
  await serve(async (ch) => {
    const body = Buffer.alloc(MUX_WINDOW_BYTES, 2);
    ch.request(7, 'POST', '/count', ['host', 'x', 'content-length', String(body.length)], body);
    const frames = await collect(ch, (f) => f.type === 'res-end', 2000);
    const credited = frames.reduce((n, f) => n + (f.type === 'credit' && f.id === 7 ? f.bytes : 0), 0);
    assert.ok(credited >= MUX_CREDIT_BATCH && credited <= body.length, `credited ${credited}`);
    assert.ok(frames.filter((f) => f.type === 'credit').every((f) => (f as { bytes: number }).bytes >= MUX_CREDIT_BATCH), 'never a credit below a batch');
    const head = frames.find((f) => f.type === 'res-head') as Extract<Frame, { type: 'res-head' }>;
    assert.equal(head.head.status, 200);
    const text = Buffer.concat([head.body ?? Buffer.alloc(0), ...frames.filter((f) => f.type === 'res-body').map((f) => (f as { body: Uint8Array }).body)]).toString();
    assert.equal(text, String(body.length));
  });
});

test('a second request with an id in flight is a protocol error: the channel closes with 1002', async () => {
  await serve(async (ch) => {
    ch.request(3, 'GET', '/slow', ['host', 'x']);
    ch.request(3, 'GET', '/ping', ['host', 'x']);
    const { code } = await ch.closed;
    assert.equal(code, 1002);
  });
});
