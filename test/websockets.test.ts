// WebSockets through the router to the app, on the whole stack: real `ws` clients on the router's
// client port, the real router, the local Lambda running the demo function, whose http.Server
// takes the upgrades (demo/sockets.ts). Many sockets share few environments; every message comes
// back byte for byte; a room's broadcast reaches its members on one environment; counters return
// to zero when the sockets close.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { startStack, waitFor, type Stack } from './stack.ts';

let stack: Stack;
before(async () => {
  stack = await startStack({ routerEnv: { LAMBDA_DISPATCH_MaxSocketsPerInstance: '200' } });
});
after(() => stack?.close());

const wsUrl = (path: string, on: Stack = stack) => on.router.url.replace(/^http/, 'ws') + path;

/** A socket to `path` on `on` (the shared stack unless said), open. */
function open(path: string, on: Stack = stack): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path, on), { perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
}

/** Sends each message and waits for its echo before the next: the replies in order. */
async function echoAll(ws: WebSocket, messages: (string | Buffer)[]): Promise<void> {
  for (const m of messages) {
    const reply = await within(
      new Promise<{ data: Buffer; binary: boolean }>((resolve, reject) => {
        ws.once('message', (data: Buffer, binary: boolean) => resolve({ data, binary }));
        ws.once('close', (code) => reject(new Error(`closed ${code} before the echo`)));
        ws.send(m);
      }),
      30_000,
      'echo',
    );
    ws.removeAllListeners('close');
    if (typeof m === 'string') {
      assert.equal(reply.binary, false);
      assert.equal(reply.data.toString('utf8'), m);
    } else {
      assert.equal(reply.binary, true);
      assert.ok(reply.data.equals(m), `binary echo of ${m.length} bytes differs`);
    }
  }
}

/** `p`, or a failure naming `what` if it takes longer than `ms`: a lost message fails, never hangs. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve(-1) : ws.once('close', (code) => resolve(code))));
}

test('text and binary, 1 byte to 1 MB, come back byte for byte; counters return to zero', async () => {
  const ws = await open('/ws/echo');
  const sizes = [1, 125, 126, 65_535, 65_536, 1024 * 1024];
  await echoAll(ws, [...sizes.map((n) => randomBytes(n)), 'é', 'x'.repeat(70_000), '']);
  ws.close(1000);
  assert.equal(await closed(ws), 1000);
  const idle = await waitFor(() => stack.router.status(), (s) => s.sockets === 0 && s.inFlight === 0 && s.ingress.activeRequests === 0);
  assert.deepEqual([idle.sockets, idle.inFlight, idle.ingress.activeRequests], [0, 0, 0]);
});

test('many concurrent sockets on fewer environments than sockets, each echoing many messages', async () => {
  // Opened ten at a time, as clients arrive: each takes a channel the extension opens for it, a
  // TLS handshake on a machine the suite already loads. The bench opens 500 at once.
  const count = 100;
  const sockets: WebSocket[] = [];
  while (sockets.length < count) sockets.push(...(await Promise.all(Array.from({ length: 10 }, () => open('/ws/echo')))));
  const during = await stack.router.status();
  assert.equal(during.sockets, count, 'each socket holds a channel');
  const environments = during.instances.open;
  assert.ok(environments >= 1 && environments < count, `${environments} environments for ${count} sockets`);
  await Promise.all(sockets.map((ws, i) => echoAll(ws, Array.from({ length: 20 }, (_, k) => (k % 2 === 0 ? `m${i}-${k}` : randomBytes(1 + ((i * 31 + k) % 2000)))))));
  for (const ws of sockets) ws.close(1000);
  await Promise.all(sockets.map(closed));
  const idle = await waitFor(() => stack.router.status(), (s) => s.sockets === 0 && s.ingress.activeRequests === 0);
  assert.equal(idle.sockets, 0);
});

test('a room broadcast reaches every member the environment holds', async () => {
  // One environment, so that every member is in the same room (a room is one server's).
  const one = await startStack({ routerEnv: { LAMBDA_DISPATCH_MaxInstances: '1' } });
  try {
    const members = await Promise.all(Array.from({ length: 5 }, () => open('/ws/room', one)));
    assert.equal((await one.router.status()).sockets, 5);
    const got = members.map((ws) => within(new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString()))), 10_000, 'the broadcast'));
    members[2]!.send('hello room');
    assert.deepEqual(await Promise.all(got), Array(5).fill('hello room'));
    for (const ws of members) ws.close(1000);
    await Promise.all(members.map(closed));
  } finally {
    await one.close();
  }
});

test('an upgrade the app refuses is its answer; a plain GET still works on the same port', async () => {
  const refused = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(wsUrl('/ws/nowhere'));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => reject(new Error('opened')));
    ws.once('error', () => {});
  });
  assert.equal(refused, 404);
  const res = await fetch(`${stack.router.url}/ping`);
  assert.equal(await res.text(), 'pong');
});

test('a client that vanishes mid-message frees the channel; the app closing frees it too', async () => {
  const ws = await open('/ws/echo');
  // Half a frame, then the connection is destroyed under it.
  (ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x82, 0xfe, 0x10, 0x00, 1, 2, 3, 4, 9, 9]));
  ws.terminate();
  await waitFor(() => stack.router.status(), (s) => s.sockets === 0 && s.ingress.activeRequests === 0);
  const after = await stack.router.status();
  assert.deepEqual([after.sockets, after.ingress.activeRequests], [0, 0]);

  // The app closes in the middle of a message it will not take (over its 16 MB maximum: 1009).
  const big = await open('/ws/echo');
  const code = closed(big);
  big.send(Buffer.alloc(17 * 1024 * 1024, 1));
  assert.equal(await within(code, 30_000, 'close'), 1009);
  const freed = await waitFor(() => stack.router.status(), (s) => s.sockets === 0 && s.ingress.activeRequests === 0);
  assert.deepEqual([freed.sockets, freed.ingress.activeRequests], [0, 0]);
});

test('a client still sending when the app has closed is read and dropped, so its connection ends; one that never ends its side is cut', async () => {
  const { connect } = await import('node:net');
  const { port } = new URL(stack.router.url);
  const baseline = (await stack.router.status()).ingress.connections;
  // Half-open allowed: it will not end its side when the router ends its own.
  const socket = connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => {});
  const key = randomBytes(16).toString('base64');
  socket.write(`GET /ws/echo HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ${key}\r\nsec-websocket-version: 13\r\n\r\n`);
  let answer = '';
  await new Promise<void>((resolve) => {
    const onData = (c: Buffer) => {
      answer += c.toString('latin1');
      if (answer.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
  assert.match(answer, /^HTTP\/1\.1 101 /);
  socket.resume();
  // A binary frame announcing 17 MB (over the app's 16 MB: it closes with 1009), masked, then its
  // bytes for as long as the router takes them. The app's close ends the router's side (FIN): the
  // bytes this client had queued must still be taken (a paused socket would hold them, and a
  // client's close behind them, for good). It then stops writing but never ends its own side:
  // the router must not keep the connection for it.
  const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x01, 0x10, 0, 0, 1, 2, 3, 4]);
  let ended = false;
  socket.once('end', () => (ended = true));
  socket.write(header);
  const chunk = Buffer.alloc(64 * 1024, 7);
  const writing = (async () => {
    while (!ended && !socket.destroyed) {
      if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), new Promise((r) => setTimeout(r, 200))]);
    }
  })();
  await within(writing, 20_000, "end of the router's side");
  try {
    // What the client queued drains into the router, which drops it.
    await within(
      new Promise<void>((resolve) => {
        const check = () => (socket.writableLength === 0 ? resolve() : setTimeout(check, 50));
        check();
      }),
      20_000,
      "the router taking the client's queued bytes",
    );
    // The connection is let go on the router's side, though this client never ends its own.
    const freed = await waitFor(() => stack.router.status(), (s) => s.ingress.connections <= baseline && s.sockets === 0 && s.ingress.activeRequests === 0, 20_000);
    assert.deepEqual([freed.ingress.connections <= baseline, freed.sockets, freed.ingress.activeRequests], [true, 0, 0]);
  } finally {
    socket.destroy();
  }
});

test('at the deadline every socket is closed with 1012 before it, none reset, and reconnects land on the replacement', async () => {
  const short = await startStack({ lambda: { timeoutS: 6 } });
  try {
    const connect = () => open('/ws/echo', short);
    const sockets = await Promise.all(Array.from({ length: 10 }, connect));
    const [first] = (await short.router.status()).concurrency.filter((c) => c.sockets > 0);
    assert.ok(first !== undefined);
    const startedAt = Date.now();
    const codes = await Promise.all(sockets.map((ws) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))));
    const closedAfterMs = Date.now() - startedAt;
    assert.ok(codes.every((c) => c === 1012), `close codes ${codes.join(',')}`);
    assert.ok(closedAfterMs < 6000, `closed ${closedAfterMs} ms after opening, within the 6 s function timeout`);
    const again = await connect();
    await echoAll(again, ['back']);
    const now = await short.router.status();
    const holding = now.concurrency.filter((c) => c.sockets > 0).map((c) => c.instance);
    assert.equal(holding.length, 1);
    assert.notEqual(holding[0], first.instance, 'the reconnect is served by the replacement');
    again.close(1000);
    const idle = await waitFor(() => short.router.status(), (s) => s.sockets === 0 && s.ingress.activeRequests === 0);
    assert.deepEqual([idle.sockets, idle.ingress.activeRequests], [0, 0]);
  } finally {
    await short.close();
  }
});

test('the router\'s drain closes every socket with 1001', async () => {
  const draining = await startStack();
  const sockets = await Promise.all(Array.from({ length: 5 }, () => open('/ws/echo', draining)));
  const codes = Promise.all(sockets.map((ws) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))));
  const drained = draining.router.close(10_000);
  assert.deepEqual(await codes, [1001, 1001, 1001, 1001, 1001]);
  const result = await drained;
  assert.deepEqual(result.cut, { answered: 0, reset: 0 }, 'none was cut at the end of the grace');
  await draining.close();
});
