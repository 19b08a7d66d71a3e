// The extension end to end on real sockets: a test router (WebSocket server speaking core/frames.ts)
// on one side, the demo app (or a small purpose-built app) on the other.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http, { type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { demoApp } from '../demo/app.ts';
import { serveDemo } from '../demo/serve.ts';
import { closeLocalServers, createHandler, type ExtensionOptions } from './handler.ts';
import { contextFor, headerValues, TestRouter } from './test-router.ts';

const quiet: ExtensionOptions = { log: () => {} };

after(() => closeLocalServers());

/** Starts a router and an invocation against it; `stop` always closes the router. */
async function setup(
  app: RequestListener | { port: number; healthPath?: string },
  opts: { channels?: number; maxConcurrent?: number; timeMs?: number; options?: ExtensionOptions; token?: string } = {},
) {
  const router = await new TestRouter().start();
  const handler = createHandler(app, { ...quiet, ...opts.options });
  const started = Date.now();
  const ctx = contextFor(opts.timeMs ?? 60_000);
  const payload = router.payload({
    channels: opts.channels ?? 1,
    maxConcurrent: opts.maxConcurrent ?? opts.channels ?? 1,
    ...(opts.token !== undefined ? { token: opts.token } : {}),
  });
  const run = handler(payload, ctx);
  return { router, run, started, ctx };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('relaying requests', () => {
  test('GET and a streaming POST echo (5 MB, byte-identical) through one channel', async () => {
    const { router, run } = await setup(demoApp);
    try {
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/ping', ['host', 'example.com']);
      const ping = await ch!.response(1);
      assert.equal(ping.status, 200);
      assert.equal(ping.body.toString(), 'pong');
      assert.match(headerValues(ping.headers, 'content-type')[0]!, /^text\/plain/);
      // The whole small response rides in one message: RES_HEAD with its body, flagged END.
      assert.deepEqual(ping.frames, ['res-head']);

      const body = randomBytes(5 * 1024 * 1024 + 123);
      ch!.request(2, 'POST', '/echo', ['host', 'example.com', 'content-type', 'application/x-test', 'content-length', String(body.length)], body);
      const echo = await ch!.response(2);
      assert.equal(echo.status, 200);
      assert.deepEqual(headerValues(echo.headers, 'content-type'), ['application/x-test']);
      assert.equal(echo.body.length, body.length);
      assert.ok(echo.body.equals(body), 'echoed body differs');
      assert.ok(echo.frames.filter((f) => f === 'res-body').length > 1, 'a large body streams in several frames');

      // No content-length: the extension frames the body as chunked for the app.
      const body2 = randomBytes(1024 * 1024);
      ch!.request(3, 'POST', '/echo', ['host', 'example.com', 'content-type', 'application/x-other'], body2, 10_000);
      const echo2 = await ch!.response(3);
      assert.ok(echo2.body.equals(body2));

      ch!.send({ type: 'goaway' });
      const result = await run;
      assert.equal(result.exitReason, 'goaway');
      assert.equal(result.requests, 3);
      assert.equal(result.instanceId, router.instanceId);
      assert.ok(result.durationMs >= 0);
    } finally {
      await router.close();
    }
  });

  test('RES_BODY frames are at most 64 KiB; HEAD, 204 and 304 answer with one RES_HEAD flagged END', async () => {
    const { router, run } = await setup(demoApp);
    try {
      const [ch] = await router.open(1);
      const seen: number[] = [];
      ch!.ws.on('message', (d: Buffer) => seen.push(d.length));
      ch!.request(1, 'GET', '/bytes?n=1000000');
      const big = await ch!.response(1);
      assert.equal(big.body.length, 1_000_000);
      assert.ok(Math.max(...seen) <= 64 * 1024 + 6, `largest frame ${Math.max(...seen)}`);

      ch!.request(2, 'HEAD', '/bytes?n=5000');
      const head = await ch!.response(2);
      assert.deepEqual(head.frames, ['res-head']);
      assert.equal(head.body.length, 0);
      assert.deepEqual(headerValues(head.headers, 'content-length'), ['5000']);

      for (const [id, code] of [[3, 204], [4, 304]] as const) {
        ch!.request(id, 'GET', `/status?code=${code}`);
        const r = await ch!.response(id);
        assert.equal(r.status, code);
        assert.deepEqual(r.frames, ['res-head']);
      }
      ch!.send({ type: 'goaway' });
      assert.equal((await run).requests, 4);
    } finally {
      await router.close();
    }
  });

  test('repeated set-cookie headers stay two entries in RES_HEAD', async () => {
    const { router, run } = await setup(demoApp);
    try {
      const [ch] = await router.open(1);
      ch!.request(7, 'GET', '/cookies');
      const r = await ch!.response(7);
      assert.deepEqual(headerValues(r.headers, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
      ch!.send({ type: 'goaway' });
      await run;
    } finally {
      await router.close();
    }
  });

  test('an app that ends its response short of its content-length gets RES_ERROR at once, and the channel serves on', async () => {
    const app: RequestListener = (req, res) => {
      if (req.url === '/short') {
        // An app bug Node does not catch: 5 bytes of a promised 10, then end().
        res.writeHead(200, { 'content-length': '10' });
        res.end('abcde');
      } else res.end('fine');
    };
    const { router, run } = await setup(app);
    try {
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/short');
      // Without the check the response waits for 5 bytes that never come (the test's 10 s limit).
      const short = await ch!.response(1, 5000);
      assert.equal(short.frames.at(-1), 'res-error', JSON.stringify(short.frames));
      assert.match(short.error ?? '', /short of its content-length/);
      ch!.request(2, 'GET', '/next');
      const next = await ch!.response(2);
      assert.equal(next.status, 200);
      assert.equal(next.body.toString(), 'fine');
      ch!.send({ type: 'goaway' });
      await run;
    } finally {
      await router.close();
    }
  });

  test('hop-by-hop headers are removed both ways, and those the connection header names', async () => {
    const app: RequestListener = (req, res) => {
      res.setHeader('connection', 'x-secret');
      res.setHeader('x-secret', 'hop');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('proxy-authenticate', 'Basic');
      res.setHeader('trailer', 'x-t');
      res.setHeader('content-type', 'application/json');
      res.write(JSON.stringify(req.rawHeaders)); // no content-length: chunked from the app
      res.end();
    };
    const { router, run } = await setup(app);
    try {
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/', [
        'Host', 'example.com',
        'Connection', 'x-drop',
        'x-drop', '1',
        'TE', 'trailers',
        'Keep-Alive', '300',
        'Upgrade', 'websocket',
        'Proxy-Authorization', 'Basic eA==',
        'x-keep', 'yes',
      ]);
      const r = await ch!.response(1);
      assert.equal(r.status, 200);
      const names = new Set(r.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()));
      for (const hop of ['connection', 'keep-alive', 'transfer-encoding', 'x-secret', 'proxy-authenticate', 'trailer']) {
        assert.ok(!names.has(hop), `${hop} relayed`);
      }
      assert.ok(names.has('content-type'));
      const seen = JSON.parse(r.body.toString()) as string[];
      const sent = new Map<string, string[]>();
      for (let i = 0; i < seen.length; i += 2) sent.set(seen[i]!.toLowerCase(), [...(sent.get(seen[i]!.toLowerCase()) ?? []), seen[i + 1]!]);
      for (const hop of ['x-drop', 'te', 'keep-alive', 'upgrade', 'proxy-authorization']) assert.ok(!sent.has(hop), `${hop} reached the app`);
      assert.deepEqual(sent.get('x-keep'), ['yes']);
      assert.deepEqual(sent.get('host'), ['example.com']);
      // The only connection header the app sees is the extension's own, for its pooled connection.
      assert.deepEqual(sent.get('connection'), ['keep-alive']);
      ch!.send({ type: 'goaway' });
      await run;
    } finally {
      await router.close();
    }
  });

  test('REQ_ABORT mid-response and before the head frees the channel for the next request', async () => {
    const { router, run } = await setup(demoApp);
    try {
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/bytes?n=500000000');
      const first = await ch!.next();
      assert.equal(first.type, 'res-head');
      ch!.send({ type: 'req-abort', id: 1 });
      let bodies = 0;
      for (;;) {
        const f = await ch!.next();
        assert.ok('id' in f && f.id === 1, `unexpected ${f.type}`);
        if (f.type === 'res-end') break;
        assert.equal(f.type, 'res-body');
        bodies++;
      }
      assert.ok(bodies < 1000, `${bodies} body frames after the abort`);
      // Frames for the aborted request are stale now and ignored.
      ch!.send({ type: 'req-end', id: 1 });
      ch!.send({ type: 'req-abort', id: 1 });

      ch!.request(2, 'GET', '/delay?ms=10000');
      await new Promise((r) => setTimeout(r, 50));
      const t = Date.now();
      ch!.send({ type: 'req-abort', id: 2 });
      assert.deepEqual((await ch!.response(2)).frames, ['res-end']);
      assert.ok(Date.now() - t < 1000);

      ch!.request(3, 'GET', '/ping');
      const r = await ch!.response(3);
      assert.equal(r.body.toString(), 'pong');
      ch!.send({ type: 'goaway' });
      const result = await run;
      assert.equal(result.exitReason, 'goaway');
      assert.equal(result.requests, 3);
    } finally {
      await router.close();
    }
  });

  test('maxConcurrent is enforced across channels: the next head is answered "over capacity"', async () => {
    const { router, run } = await setup(demoApp, { channels: 3, maxConcurrent: 2 });
    try {
      const [a, b, c] = await router.open(3);
      a!.request(1, 'GET', '/delay?ms=300');
      b!.request(2, 'GET', '/delay?ms=300');
      await new Promise((r) => setTimeout(r, 30));
      c!.request(3, 'GET', '/ping');
      const over = await c!.response(3);
      assert.equal(over.error, 'over capacity');
      assert.equal((await a!.response(1)).body.toString(), 'delayed 300');
      c!.request(4, 'GET', '/ping');
      assert.equal((await c!.response(4)).body.toString(), 'pong');
      assert.equal((await b!.response(2)).body.toString(), 'delayed 300');
      for (const ch of [a, b, c]) ch!.send({ type: 'goaway' });
      const result = await run;
      assert.equal(result.exitReason, 'goaway');
      assert.equal(result.requests, 3, 'the refused request is not counted');
    } finally {
      await router.close();
    }
  });

  test('a busy channel answers a second head with RES_ERROR and keeps serving the first', async () => {
    const { router, run } = await setup(demoApp, { channels: 1, maxConcurrent: 4 });
    try {
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/delay?ms=100');
      ch!.request(2, 'GET', '/ping');
      const busy = await ch!.next();
      assert.deepEqual(busy, { type: 'res-error', id: 2, message: 'channel busy: one request at a time' });
      assert.equal((await ch!.response(1)).body.toString(), 'delayed 100');
      ch!.send({ type: 'goaway' });
      await run;
    } finally {
      await router.close();
    }
  });
});

describe('backpressure', () => {
  test('a router that stops reading stalls the app response (memory bounded)', async () => {
    let written = 0;
    const total = 1024 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 1);
    const app: RequestListener = (_req, res) => {
      res.writeHead(200, { 'content-length': total });
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => res.off('drain', pump));
      pump();
    };
    const { router, run } = await setup(app);
    try {
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/big');
      assert.equal((await ch!.next()).type, 'res-head');
      ch!.ws.pause(); // the client is slow: the router reads nothing more
      await new Promise((r) => setTimeout(r, 600));
      const stalledAt = written;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(written, stalledAt, 'the app kept writing while nothing was read');
      // Kernel socket buffers on both loopback hops plus the extension's high-water mark.
      assert.ok(stalledAt < 64 * 1024 * 1024, `${stalledAt} bytes written before the stall`);
      ch!.ws.resume();
      // Within a bounded wait: on a busy machine the first drain can take longer than a moment.
      for (const until = Date.now() + 5000; written === stalledAt && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
      assert.ok(written > stalledAt, 'reading again resumes the app');
      ch!.send({ type: 'req-abort', id: 1 });
      for (let f = await ch!.next(); f.type !== 'res-end'; f = await ch!.next());
      ch!.send({ type: 'goaway' });
      await run;
    } finally {
      await router.close();
    }
  });

  test('an app that does not read its request body stops the channel from reading', async () => {
    let received = 0;
    const app: RequestListener = (req, res) => {
      req.pause();
      setTimeout(() => {
        req.on('data', (d: Buffer) => (received += d.length));
        req.on('end', () => res.end(String(received)));
        req.resume();
      }, 700);
    };
    const { router, run } = await setup(app);
    try {
      const [ch] = await router.open(1);
      const size = 64 * 1024 * 1024;
      const body = Buffer.alloc(size, 7);
      ch!.request(1, 'POST', '/sink', ['content-length', String(size)], body);
      await new Promise((r) => setTimeout(r, 400));
      // The extension has stopped reading: most of the body is still queued on the router's side.
      assert.ok(ch!.ws.bufferedAmount > size / 2, `router still holds only ${ch!.ws.bufferedAmount} bytes`);
      const r = await ch!.response(1, 20_000);
      assert.equal(r.body.toString(), String(size));
      ch!.send({ type: 'goaway' });
      await run;
    } finally {
      await router.close();
    }
  });
});

describe('{ port } apps', () => {
  test('an app that stops listening: RES_ERROR, CLOSE_REQUEST "app-failed", exit "app-failed"', async () => {
    const server = await serveDemo(0);
    const { port } = server.address() as AddressInfo;
    const { router, run } = await setup({ port });
    try {
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/ping');
      assert.equal((await ch!.response(1)).body.toString(), 'pong');
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      ch!.request(2, 'GET', '/ping');
      const r = await ch!.response(2);
      assert.match(r.error ?? '', /could not be reached.*ECONNREFUSED/);
      assert.deepEqual(ch!.closeRequests, ['app-failed']);
      ch!.send({ type: 'goaway' });
      const result = await run;
      assert.equal(result.exitReason, 'app-failed');
      assert.match(result.error ?? '', /ECONNREFUSED/);
    } finally {
      server.closeAllConnections();
      server.close();
      await router.close();
    }
  });

  test('health never answering: "app-failed" after the bounded wait, no channel opened', async () => {
    const port = await freePort();
    const { router, run, started } = await setup({ port }, { options: { healthTimeoutMs: 200 } });
    try {
      const result = await run;
      assert.equal(result.exitReason, 'app-failed');
      assert.match(result.error ?? '', /did not answer GET \/health with 200 within 200 ms/);
      assert.ok(Date.now() - started < 2000);
      assert.equal(router.channels.length, 0);
      assert.deepEqual(router.refused, []);
    } finally {
      await router.close();
    }
  });

  test('health that turns 200 later: channels open once the app is ready', async () => {
    let ready = false;
    const server = http.createServer((req, res) => {
      if (req.url === '/ready') return void res.writeHead(ready ? 200 : 503).end();
      res.end('hello');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    setTimeout(() => (ready = true), 150);
    const { router, run } = await setup({ port, healthPath: '/ready' });
    try {
      const [ch] = await router.open(1);
      // Whatever the machine's load delayed: no channel before the health check said ready.
      assert.ok(ready, 'a channel opened before the app was ready');
      ch!.request(1, 'GET', '/');
      assert.equal((await ch!.response(1)).body.toString(), 'hello');
      ch!.send({ type: 'goaway' });
      assert.equal((await run).exitReason, 'goaway');
    } finally {
      server.closeAllConnections();
      server.close();
      await router.close();
    }
  });
  test('a pooled connection the app closed while idle is retried once on a fresh one', async () => {
    // The app drops every connection on its second request, the way a keep-alive timer firing as
    // the request arrives (or a thaw after a freeze) does.
    const served = new WeakMap<object, number>();
    let connections = 0;
    const server = http.createServer((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n === 2) {
        // A GET dies at once; a POST once some of its body has arrived (so it was streamed).
        if (req.method === 'GET') return void req.socket.destroy();
        return void req.once('data', () => req.socket.destroy());
      }
      req.resume();
      req.on('end', () => res.end(`ok ${req.url}`));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const { router, run } = await setup({ port });
    try {
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/a');
      assert.equal((await ch!.response(1)).body.toString(), 'ok /a');
      const before = connections;
      ch!.request(2, 'GET', '/b');
      assert.equal((await ch!.response(2)).body.toString(), 'ok /b');
      assert.equal(connections, before + 1, 'replayed on a new connection');
      // A streamed body cannot be replayed: that failure is reported.
      ch!.request(3, 'POST', '/c', ['content-length', '100000'], Buffer.alloc(100_000), 10_000);
      const r = await ch!.response(3);
      assert.match(r.error ?? '', /socket hang up|ECONNRESET|EPIPE/);
      ch!.send({ type: 'goaway' });
      assert.equal((await run).exitReason, 'goaway');
    } finally {
      server.closeAllConnections();
      server.close();
      await router.close();
    }
  });
});

describe('lifecycle', () => {
  test('GOAWAY with a request in flight: it finishes, then the channel closes; exit "goaway"', async () => {
    const { router, run } = await setup(demoApp, { channels: 2 });
    try {
      const [a, b] = await router.open(2);
      a!.request(1, 'GET', '/delay?ms=200');
      await new Promise((r) => setTimeout(r, 20));
      a!.send({ type: 'goaway' });
      b!.send({ type: 'goaway' });
      assert.equal((await b!.closed).code, 1000);
      assert.equal((await a!.response(1)).body.toString(), 'delayed 200');
      assert.equal((await a!.closed).code, 1000);
      const result = await run;
      assert.equal(result.exitReason, 'goaway');
      assert.equal(result.requests, 1);
    } finally {
      await router.close();
    }
  });

  test('401 at connect: "connect-failed" quickly, with the reason', async () => {
    const { router, run, started } = await setup(demoApp, { channels: 3, token: 'wrong' });
    try {
      const result = await run;
      assert.equal(result.exitReason, 'connect-failed');
      assert.match(result.error ?? '', /401/);
      assert.equal(result.requests, 0);
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
      assert.deepEqual(router.refused, [401, 401, 401]);
    } finally {
      await router.close();
    }
  });

  test('409 (unknown or closing instance): "connect-failed"', async () => {
    const router = await new TestRouter({ conflict: true }).start();
    try {
      const result = await createHandler(demoApp, quiet)(router.payload({ channels: 2 }), contextFor(60_000));
      assert.equal(result.exitReason, 'connect-failed');
      assert.match(result.error ?? '', /409/);
    } finally {
      await router.close();
    }
  });

  test('nothing listening at routerUrl: "connect-failed"', async () => {
    const port = await freePort();
    const handler = createHandler(demoApp, quiet);
    const payload = { v: 1, routerUrl: `ws://127.0.0.1:${port}`, instanceId: 'i', token: 't', channels: 2, maxConcurrent: 2, sentAt: 0 };
    const result = await handler(payload, contextFor(60_000));
    assert.equal(result.exitReason, 'connect-failed');
    assert.match(result.error ?? '', /ECONNREFUSED/);
  });

  test('deadline: CLOSE_REQUEST on every channel, serving goes on, return before the deadline', async () => {
    const { router, run, ctx } = await setup(demoApp, { channels: 2, timeMs: 1500, options: { deadlineMarginMs: 700 } });
    try {
      const [a, b] = await router.open(2);
      for (const ch of [a, b]) {
        const f = await ch!.next(2000);
        assert.deepEqual(f, { type: 'close-request', reason: 'deadline' });
      }
      const left = ctx.getRemainingTimeInMillis();
      assert.ok(left <= 750 && left > 300, `CLOSE_REQUEST with ${left} ms left`);
      // Still serving what the router sends until it lets go.
      a!.request(1, 'GET', '/ping');
      assert.equal((await a!.response(1)).body.toString(), 'pong');
      const result = await run;
      const leftAtReturn = ctx.deadline - Date.now();
      assert.equal(result.exitReason, 'deadline');
      assert.ok(leftAtReturn > 0, `returned ${-leftAtReturn} ms after the deadline`);
      assert.ok(leftAtReturn < 500, `returned ${leftAtReturn} ms early`);
      await a!.closed;
      await b!.closed;
    } finally {
      await router.close();
    }
  });

  test('deadline then GOAWAY from the router: returns "deadline" as soon as the channels close', async () => {
    // Default margin: min(5000, 20% of 2000) = 400 ms.
    const { router, run, ctx } = await setup(demoApp, { channels: 1, timeMs: 2000 });
    try {
      const [ch] = await router.open(1);
      assert.deepEqual(await ch!.next(3000), { type: 'close-request', reason: 'deadline' });
      ch!.send({ type: 'goaway' });
      const result = await run;
      assert.equal(result.exitReason, 'deadline');
      assert.ok(ctx.deadline - Date.now() > 300, 'returned at the GOAWAY, not at the hard stop');
    } finally {
      await router.close();
    }
  });

  test('router lost: channels dropped and the router gone → reconnect tried briefly, then "router-lost"', async () => {
    const { router, run } = await setup(demoApp, { channels: 2, options: { reconnectMs: 400 } });
    try {
      const chans = await router.open(2);
      chans[0]!.request(1, 'GET', '/delay?ms=5000');
      await new Promise((r) => setTimeout(r, 30));
      await router.close(); // drops every channel and stops listening
      const result = await run;
      assert.equal(result.exitReason, 'router-lost');
      assert.equal(result.requests, 1);
    } finally {
      await router.close();
    }
  });

  test('a channel dropped without GOAWAY is reopened and serves again', async () => {
    const { router, run } = await setup(demoApp, { channels: 2 });
    try {
      const chans = await router.open(2);
      chans[0]!.ws.terminate();
      const [again] = await router.open(1);
      assert.equal(again!.index, chans[0]!.index, 'the same channel index comes back');
      again!.request(1, 'GET', '/ping');
      assert.equal((await again!.response(1)).body.toString(), 'pong');
      again!.send({ type: 'goaway' });
      chans[1]!.send({ type: 'goaway' });
      assert.equal((await run).exitReason, 'goaway');
    } finally {
      await router.close();
    }
  });

  test('a router that no longer knows the instance (409 on reconnect): "router-lost" at once', async () => {
    const { router, run } = await setup(demoApp, { channels: 1 });
    try {
      const [ch] = await router.open(1);
      router.refuseAll = 409;
      ch!.ws.terminate();
      const result = await run;
      assert.equal(result.exitReason, 'router-lost');
      assert.deepEqual(router.refused, [409]);
    } finally {
      await router.close();
    }
  });

  test('a request listener gets one loopback server per environment, kept across invocations', async () => {
    const app: RequestListener = (req, res) => res.end(String(req.socket.localPort));
    const handler = createHandler(app, quiet);
    const ports: string[] = [];
    for (let i = 0; i < 2; i++) {
      const router = await new TestRouter().start();
      try {
        const run = handler(router.payload(), contextFor(60_000));
        const [ch] = await router.open(1);
        ch!.request(1, 'GET', '/');
        ports.push((await ch!.response(1)).body.toString());
        ch!.send({ type: 'goaway' });
        assert.equal((await run).exitReason, 'goaway');
      } finally {
        await router.close();
      }
    }
    assert.equal(ports[0], ports[1]);
  });

  test('initOnly: gets the app ready and returns "init-only" without connecting', async () => {
    const router = await new TestRouter().start();
    try {
      const result = await createHandler(demoApp, quiet)(router.payload({ initOnly: true }), contextFor(60_000));
      assert.equal(result.exitReason, 'init-only');
      assert.equal(result.requests, 0);
      assert.equal(router.channels.length, 0);
    } finally {
      await router.close();
    }
  });

  test('an invalid payload fails the invocation with a clear error', async () => {
    const handler = createHandler(demoApp, quiet);
    // Any object naming a routerUrl is the router's payload (anything else is passed to the app: events.test.ts).
    await assert.rejects(handler({ routerUrl: 'ws://127.0.0.1:1' }, contextFor(1000)), /not a valid invoke payload: unsupported version undefined/);
    await assert.rejects(handler({ v: 1, routerUrl: 'http://x', instanceId: 'i', token: 't', channels: 1, maxConcurrent: 1 }, contextFor(1000)), /routerUrl/);
  });
});
