// The kinds of app createHandler takes, each on real sockets behind a test router: fetch handlers
// (a function or an object with `fetch`), `{ port, command }` apps started by the extension (and
// what happens when they die), readiness during init with and without async init, and pooled
// connections closed before the app's keep-alive timer would.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { closeLocalServers, createHandler, type App, type ExtensionOptions } from './handler.ts';
import { contextFor, headerValues, TestRouter } from './test-router.ts';

const quiet: ExtensionOptions = { log: () => {} };
const PORT_APP = fileURLToPath(new URL('../test/fixtures/port-app.mjs', import.meta.url));

after(() => closeLocalServers());

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function serve(app: App, options: ExtensionOptions, fn: (ch: import('./test-router.ts').TestChannel) => Promise<void>) {
  const router = await new TestRouter().start();
  try {
    const run = createHandler(app, { ...quiet, ...options })(router.payload(), contextFor(60_000));
    const [ch] = await router.open(1);
    await fn(ch!);
    ch!.send({ type: 'goaway' });
    return await run;
  } finally {
    await router.close();
  }
}

describe('fetch handlers', () => {
  test('(request) => Response: GET, a 5 MB streaming echo, repeated set-cookie, status text', async () => {
    const app = async (request: Request): Promise<Response> => {
      const url = new URL(request.url);
      if (url.pathname === '/echo') return new Response(request.body, { headers: { 'content-type': request.headers.get('content-type') ?? 'application/octet-stream' } });
      if (url.pathname === '/cookies') {
        const h = new Headers({ 'content-type': 'text/plain' });
        h.append('set-cookie', 'a=1; Path=/');
        h.append('set-cookie', 'b=2; Path=/');
        return new Response('two cookies', { headers: h });
      }
      if (url.pathname === '/url') return Response.json({ url: request.url, method: request.method });
      return new Response('nope', { status: 404, statusText: 'Nope' });
    };
    const result = await serve(app, {}, async (ch) => {
      ch.request(1, 'GET', '/url?x=1', ['host', 'example.com', 'x-forwarded-proto', 'https']);
      const u = await ch.response(1);
      assert.deepEqual(JSON.parse(u.body.toString()), { url: 'https://example.com/url?x=1', method: 'GET' });
      const body = randomBytes(5 * 1024 * 1024);
      ch.request(2, 'POST', '/echo', ['host', 'example.com', 'content-type', 'application/x-test', 'content-length', String(body.length)], body);
      const echo = await ch.response(2, 30_000);
      assert.ok(echo.body.equals(body), 'echoed body differs');
      assert.deepEqual(headerValues(echo.headers, 'content-type'), ['application/x-test']);
      ch.request(3, 'GET', '/cookies');
      assert.deepEqual(headerValues((await ch.response(3)).headers, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
      ch.request(4, 'GET', '/other');
      assert.equal((await ch.response(4)).status, 404);
    });
    assert.equal(result.exitReason, 'goaway');
    assert.equal(result.requests, 4);
  });

  test('an object with fetch (a Hono app): called with its this; a throwing handler answers 500', async () => {
    const app = {
      greeting: 'hello from fetch',
      fetch(this: { greeting: string }, request: Request): Response {
        if (new URL(request.url).pathname === '/throw') throw new Error('boom');
        return new Response(this.greeting);
      },
    };
    const errors = console.error;
    console.error = () => {};
    try {
      await serve(app, {}, async (ch) => {
        ch.request(1, 'GET', '/');
        assert.equal((await ch.response(1)).body.toString(), 'hello from fetch');
        ch.request(2, 'GET', '/throw');
        assert.equal((await ch.response(2)).status, 500);
      });
    } finally {
      console.error = errors;
    }
  });

  test('REQ_ABORT aborts request.signal', async () => {
    let aborted!: () => void;
    const sawAbort = new Promise<void>((r) => (aborted = r));
    const app = (request: Request) =>
      new Promise<Response>((resolve) => {
        request.signal.addEventListener('abort', () => {
          aborted();
          resolve(new Response('late'));
        });
      });
    await serve(app, {}, async (ch) => {
      ch.request(1, 'GET', '/hang');
      await new Promise((r) => setTimeout(r, 50));
      ch.send({ type: 'req-abort', id: 1 });
      await ch.response(1);
      await sawAbort;
    });
  });
});

describe('{ command } apps', () => {
  test('started by the extension with PORT set; serves; the app dying ends the invocation "app-failed"; never restarted', async () => {
    const port = await freePort();
    const handler = createHandler({ port, command: `node ${PORT_APP}` }, quiet);
    const router = await new TestRouter().start();
    try {
      const run = handler(router.payload(), contextFor(60_000));
      const [ch] = await router.open(1);
      ch!.request(1, 'GET', '/ping');
      assert.equal((await ch!.response(1)).body.toString(), 'pong from port app');
      const body = randomBytes(1024 * 1024);
      ch!.request(2, 'POST', '/echo', ['content-length', String(body.length)], body);
      assert.ok((await ch!.response(2)).body.equals(body));
      ch!.request(3, 'POST', '/exit?code=3');
      await ch!.response(3);
      // No GOAWAY from the router: the app's exit alone ends the invocation.
      const result = await run;
      assert.equal(result.exitReason, 'app-failed');
      assert.match(result.error ?? '', /exited \(code 3\); it is not restarted/);
      assert.deepEqual(ch!.closeRequests.length > 0 || (await ch!.closed).code === 1000, true);
      // The next invocation in this environment fails at once with the same reason.
      const again = await handler(router.payload(), contextFor(60_000));
      assert.equal(again.exitReason, 'app-failed');
      assert.match(again.error ?? '', /exited \(code 3\)/);
    } finally {
      await router.close();
    }
  });

  test('a command that cannot run: the wait ends at its exit with the reason, not at the timeout', async () => {
    const port = await freePort();
    const handler = createHandler({ port, command: 'exit 7' }, { ...quiet, healthTimeoutMs: 60_000 });
    const router = await new TestRouter().start();
    try {
      const result = await handler(router.payload(), contextFor(60_000));
      assert.equal(result.exitReason, 'app-failed');
      assert.match(result.error ?? '', /`exit 7` exited \(code 7\)/);
    } finally {
      await router.close();
    }
  });
});

describe('readiness during init', () => {
  test('without async init: init() fails with a clear error when the app is not ready in time', async () => {
    const port = await freePort();
    const handler = createHandler({ port, command: `READY_AFTER_MS=60000 node ${PORT_APP}` }, { ...quiet, initTimeoutMs: 200, asyncInit: false });
    await assert.rejects(handler.init(), /init failed: the app at `.*` on 127\.0\.0\.1:\d+ did not answer GET \/health with 200 within 200 ms.*LAMBDA_DISPATCH_ASYNC_INIT=true/);
  });

  test('async init: init() returns early, the first invocation waits and serves once ready', async () => {
    const port = await freePort();
    const logs: string[] = [];
    const handler = createHandler(
      { port, command: `READY_AFTER_MS=800 node ${PORT_APP}` },
      { log: (m) => logs.push(m), initTimeoutMs: 100, asyncInit: true, asyncInitTimeoutMs: 30_000, healthTimeoutMs: 1 },
    );
    assert.equal(await handler.init(), handler);
    assert.match(logs.join('\n'), /not ready after 100 ms of init; async init/);
    const router = await new TestRouter().start();
    try {
      const run = handler(router.payload(), contextFor(60_000));
      const [ch] = await router.open(1, 20_000);
      ch!.request(1, 'GET', '/ping');
      assert.equal((await ch!.response(1)).body.toString(), 'pong from port app');
      ch!.send({ type: 'goaway' });
      assert.equal((await run).exitReason, 'goaway');
    } finally {
      await router.close();
    }
  });

  test('LAMBDA_DISPATCH_ASYNC_INIT and _INIT_TIMEOUT are read from the environment; bad values name the variable', () => {
    const saved = { ...process.env };
    try {
      process.env.LAMBDA_DISPATCH_ASYNC_INIT = 'sometimes';
      assert.throws(() => createHandler({ port: 3001 }), /LAMBDA_DISPATCH_ASYNC_INIT must be true or false/);
      process.env.LAMBDA_DISPATCH_ASYNC_INIT = 'true';
      process.env.LAMBDA_DISPATCH_ASYNC_INIT_TIMEOUT = '-5';
      assert.throws(() => createHandler({ port: 3001 }), /LAMBDA_DISPATCH_ASYNC_INIT_TIMEOUT must be a non-negative number of milliseconds/);
      process.env.LAMBDA_DISPATCH_ASYNC_INIT_TIMEOUT = '1000';
      process.env.LAMBDA_DISPATCH_PORT = '70000';
      assert.throws(() => createHandler({}), /LAMBDA_DISPATCH_PORT must be a port number/);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('keep-alive to the app', () => {
  test('a pooled connection idle for keepAliveIdleMs is closed by the extension, not by the app', async () => {
    const sockets: Socket[] = [];
    const closedByPeer: Promise<void>[] = [];
    const server = http.createServer((_req, res) => res.end('ok'));
    server.keepAliveTimeout = 120_000; // the app would keep it for two minutes
    server.on('connection', (s: Socket) => {
      sockets.push(s);
      closedByPeer.push(new Promise((r) => s.once('end', () => r())));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      await serve({ port, healthPath: '/' }, { keepAliveIdleMs: 150 }, async (ch) => {
        ch.request(1, 'GET', '/a');
        assert.equal((await ch.response(1)).body.toString(), 'ok');
        // The request's connection (the last one: probes use their own) is ended by the extension.
        const n = sockets.length;
        await closedByPeer[n - 1];
        ch.request(2, 'GET', '/b');
        assert.equal((await ch.response(2)).body.toString(), 'ok');
        assert.equal(sockets.length, n + 1, 'a fresh connection for the next request');
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
