// Upgrades through the extension on real sockets: a test router sends REQ_HEAD flagged UPGRADE and
// speaks WebSocket frames (built and read with `ws`'s own framing) inside REQ_BODY / RES_BODY, to
// the app kinds that take upgrades — the app's own http.Server and a { port } app — and a fetch
// handler that cannot. GOAWAY on the channel closes the socket with 1001 between two frames.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { WebSocketServer } from 'ws';
import type { Frame } from '../core/frames.ts';
import { closeLocalServers, createHandler, type App } from './handler.ts';
import { contextFor, TestRouter, wsFraming, type TestChannel } from './test-router.ts';

after(() => closeLocalServers());

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const UPGRADE_HEAD = ['host', 'x', 'upgrade', 'websocket', 'sec-websocket-version', '13', 'sec-websocket-key', KEY];

function echoServer(): http.Server {
  const server = http.createServer((_req, res) => res.end('plain'));
  new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d as Buffer, { binary })));
  return server;
}

/** A client's masked frame carrying `text`. */
const clientText = (text: string) => Buffer.concat(wsFraming.Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: true, readOnly: false, rsv1: false }));

/** Reads server frames out of RES_BODY frames until `want` messages (or a close) arrived. */
async function serverMessages(ch: TestChannel, id: number, want: number): Promise<{ messages: string[]; close: number | null; end: boolean }> {
  const out = { messages: [] as string[], close: null as number | null, end: false };
  const r = new wsFraming.Receiver({ isServer: false, maxPayload: 0 });
  r.on('message', (d: Buffer) => out.messages.push(d.toString()));
  r.on('conclude', (code: number) => (out.close = code));
  while (out.messages.length < want && out.close === null) {
    const f: Frame = await ch.next(5000);
    if (f.type === 'res-body' && f.id === id) r.write(Buffer.from(f.body));
    if (f.type === 'res-end') {
      out.end = true;
      break;
    }
  }
  return out;
}

async function upgraded(app: App) {
  const router = await new TestRouter().start();
  const run = createHandler(app, { log: () => {}, accessLogSample: 0 })(router.payload({ channels: 1, maxConcurrent: 1 }), contextFor(60_000));
  const [ch] = await router.open(1);
  ch!.send({ type: 'req-head', id: 1, head: { method: 'GET', target: '/', headers: UPGRADE_HEAD }, end: false, body: null, upgrade: true });
  const head = await ch!.next();
  return { router, run, ch: ch!, head };
}

for (const [kind, make] of [
  ['the app\'s http.Server', async () => echoServer()],
  [
    'a { port } app',
    async () => {
      const s = echoServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      after(() => s.close());
      return { port: (s.address() as AddressInfo).port, healthPath: '/' };
    },
  ],
] as const) {
  test(`${kind}: 101 with the accept key, messages both ways, GOAWAY closes with 1001`, async () => {
    const { router, run, ch, head } = await upgraded(await make());
    try {
      assert.equal(head.type, 'res-head');
      if (head.type !== 'res-head') return;
      assert.equal(head.head.status, 101);
      const h = head.head.headers;
      const value = (n: string) => h[h.indexOf(n) + 1];
      assert.equal(value('sec-websocket-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
      assert.equal(value('upgrade')?.toLowerCase(), 'websocket');
      assert.equal(head.end, false);
      ch.send({ type: 'req-body', id: 1, body: Buffer.concat([clientText('one'), clientText('two')]) });
      assert.deepEqual((await serverMessages(ch, 1, 2)).messages, ['one', 'two']);
      ch.send({ type: 'goaway' });
      const closing = await serverMessages(ch, 1, 1);
      assert.equal(closing.close, 1001);
      await ch.closed;
      assert.equal((await run).exitReason, 'goaway');
    } finally {
      await router.close();
    }
  });
}

test('a fetch handler answers 501, saying why', async () => {
  const { router, ch, head } = await upgraded({ fetch: () => new Response('never') });
  try {
    assert.equal(head.type, 'res-head');
    if (head.type !== 'res-head') return;
    assert.equal(head.head.status, 501);
    assert.equal(head.end, true);
    assert.match(Buffer.from(head.body ?? []).toString(), /cannot take protocol upgrades/);
    ch.send({ type: 'goaway' });
  } finally {
    await router.close();
  }
});
