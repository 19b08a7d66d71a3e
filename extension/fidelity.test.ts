// HTTP fidelity at the extension, behind a test router, for each kind of app (in-process request
// listener over the in-memory transport, fetch handler, `{ port }` app over loopback): a head
// whose body is still pending is sent at once; informational (1xx) responses, custom reason
// phrases and trailers are carried when the router announces it understands them, and not at all
// to an older router; a fetch handler's body of known length keeps its content-length.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type { Frame } from '../core/frames.ts';
import { fidelityFetch, fidelityListener, type Release } from '../test/fixtures/fidelity-app.ts';
import { closeLocalServers, createHandler, type App } from './handler.ts';
import { contextFor, headerValues, TestRouter, type TestChannel } from './test-router.ts';

after(() => closeLocalServers());

/** Responses held until the test releases them by name. */
function gates(): { release: Release; open(name: string): void } {
  const waiting = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const get = (name: string) => {
    let g = waiting.get(name);
    if (g === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      g = { promise, resolve };
      waiting.set(name, g);
    }
    return g;
  };
  return { release: (name) => get(name).promise, open: (name) => get(name).resolve() };
}

async function serve(app: App, features: readonly string[] | undefined, fn: (ch: TestChannel) => Promise<void>): Promise<void> {
  const router = await new TestRouter({ ...(features !== undefined ? { features } : {}) }).start();
  try {
    const run = createHandler(app, { log: () => {}, compression: true })(router.payload(), contextFor(120_000));
    const [ch] = await router.open(1);
    await fn(ch!);
    ch!.send({ type: 'goaway' });
    assert.equal((await run).exitReason, 'goaway');
  } finally {
    await router.close();
  }
}

/** A `{ port }` app: the fixture listener on its own loopback server. */
async function portApp(release: Release): Promise<{ app: App; close(): void }> {
  const server = http.createServer(fidelityListener(release));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    app: { port },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const SLOW_MACHINE_MS = 30_000;

/**
 * The head arrives while the app still holds its body (the test has not released it yet): an
 * ordering check; the bound only turns a hang into a failure.
 */
async function headBeforeBody(ch: TestChannel, id: number, open: (name: string) => void): Promise<void> {
  const name = `held-${id}`;
  ch.request(id, 'GET', `/held?name=${name}`, ['host', 'app.test']);
  const head = await ch.next(SLOW_MACHINE_MS).catch(() => null);
  open(name); // whatever happened, let the app finish
  assert.ok(head !== null, 'no RES_HEAD while the body was held: the head waited for the body');
  assert.equal(head.type, 'res-head');
  const h = head as Extract<Frame, { type: 'res-head' }>;
  assert.equal(h.head.status, 200);
  assert.equal(h.end, false);
  assert.equal(h.body, null, 'no body bytes can have come before the release');
  assert.deepEqual(headerValues(h.head.headers, 'content-type'), ['text/event-stream']);
  let body = '';
  for (;;) {
    const f = await ch.next(SLOW_MACHINE_MS);
    if (f.type === 'res-body') body += Buffer.from(f.body).toString();
    else {
      assert.equal(f.type, 'res-end');
      break;
    }
  }
  assert.equal(body, 'data: released\n\n');
}

describe('a head without its body is sent at once', () => {
  test('request listener (res.flushHeaders over the in-memory transport)', async () => {
    const g = gates();
    await serve((req: http.IncomingMessage, res: http.ServerResponse) => fidelityListener(g.release)(req, res), undefined, (ch) => headBeforeBody(ch, 1, g.open));
  });

  test('fetch handler (a streamed body not there yet)', async () => {
    const g = gates();
    const fetchApp = fidelityFetch(g.release);
    await serve((request: Request) => fetchApp(request), undefined, (ch) => headBeforeBody(ch, 1, g.open));
  });

  test('{ port } app', async () => {
    const g = gates();
    const p = await portApp(g.release);
    try {
      await serve(p.app, undefined, (ch) => headBeforeBody(ch, 1, g.open));
    } finally {
      p.close();
    }
  });
});

/** The 1xx, reason and trailer routes of fidelityListener, as a router that announces every feature sees them. */
async function carried(ch: TestChannel): Promise<void> {
  ch.request(1, 'GET', '/early-hints');
  const hints = await ch.response(1);
  assert.deepEqual(hints.info, [{ status: 103, headers: ['link', '</style.css>; rel=preload; as=style', 'x-hint', 'early'] }]);
  assert.equal(hints.frames[0], 'res-info', 'the 1xx comes before the final head');
  assert.equal(hints.status, 200);
  assert.equal(hints.reason, undefined, 'a standard reason is not sent');
  assert.equal(hints.body.toString(), 'after hints');

  ch.request(2, 'GET', '/processing');
  const processing = await ch.response(2);
  assert.deepEqual(processing.info, [{ status: 102, headers: [] }]);
  assert.equal(processing.body.toString(), 'processed');

  ch.request(3, 'GET', '/reason');
  const reason = await ch.response(3);
  assert.equal(reason.status, 299);
  assert.equal(reason.reason, 'Custom Reason');

  ch.request(4, 'GET', '/trailers');
  const trailers = await ch.response(4);
  assert.equal(trailers.body.toString(), 'part1part2');
  assert.deepEqual(trailers.trailers, ['x-checksum', 'abc123']);
  assert.deepEqual(headerValues(trailers.headers, 'trailer'), [], 'Trailer describes the chunked framing: not relayed');

  // Compressed on the way (chunked: unknown length), the trailers still follow.
  ch.request(5, 'GET', '/trailers', ['accept-encoding', 'gzip']);
  const gz = await ch.response(5);
  assert.deepEqual(headerValues(gz.headers, 'content-encoding'), ['gzip']);
  assert.deepEqual(gz.trailers, ['x-checksum', 'abc123']);

  // A length-delimited response cannot have trailers: Node drops them, so there are none to carry.
  ch.request(6, 'GET', '/trailers-length');
  const fixed = await ch.response(6);
  assert.equal(fixed.body.toString(), 'fixed');
  assert.equal(fixed.trailers, undefined);
}

/** The same routes to a router that announced no feature (an older one): none of it is sent. */
async function notCarried(ch: TestChannel): Promise<void> {
  ch.request(1, 'GET', '/early-hints');
  const hints = await ch.response(1);
  assert.deepEqual(hints.frames.filter((f) => f === 'res-info'), []);
  assert.equal(hints.body.toString(), 'after hints');
  ch.request(2, 'GET', '/reason');
  const reason = await ch.response(2);
  assert.equal(reason.status, 299);
  assert.equal(reason.reason, undefined);
  ch.request(3, 'GET', '/trailers');
  const trailers = await ch.response(3);
  assert.equal(trailers.body.toString(), 'part1part2');
  assert.equal(trailers.trailers, undefined);
}

describe('1xx, reason phrases and trailers', () => {
  const never: Release = () => new Promise(() => {});

  test('request listener: carried to a router that announces them', async () => {
    await serve(fidelityListener(never), undefined, carried);
  });

  test('request listener: not sent to a router that does not', async () => {
    await serve(fidelityListener(never), [], notCarried);
  });

  test('{ port } app: carried to a router that announces them', async () => {
    const p = await portApp(never);
    try {
      await serve(p.app, undefined, carried);
    } finally {
      p.close();
    }
  });

  test('{ port } app: not sent to a router that does not', async () => {
    const p = await portApp(never);
    try {
      await serve(p.app, [], notCarried);
    } finally {
      p.close();
    }
  });

  test('fetch handler: the status text is the reason phrase', async () => {
    const fetchApp = fidelityFetch(never);
    await serve((request: Request) => fetchApp(request), undefined, async (ch) => {
      ch.request(1, 'GET', '/reason');
      const r = await ch.response(1);
      assert.equal(r.status, 299);
      assert.equal(r.reason, 'Custom Reason');
      assert.equal(r.body.toString(), 'custom');
    });
  });
});

describe('fetch handlers: content-length of bodies of known length', () => {
  test('string, JSON, bytes, Blob and URLSearchParams bodies carry their length; streams do not', async () => {
    const fetchApp = fidelityFetch(() => Promise.resolve());
    await serve((request: Request) => fetchApp(request), undefined, async (ch) => {
      const cases: [string, string | null, string | null][] = [
        ['/text', '11', 'hello fetch'],
        ['/json', String(Buffer.byteLength(JSON.stringify({ ok: true, n: 42 }))), JSON.stringify({ ok: true, n: 42 })],
        ['/bytes', '1000', null],
        ['/blob', '7', null],
        ['/form', String('a=1&b=two'.length), 'a=1&b=two'],
        ['/stream', null, 'one,two'],
        ['/declared', '5', '12345'],
      ];
      let id = 0;
      for (const [path, length, body] of cases) {
        ch.request(++id, 'GET', path);
        const r = await ch.response(id);
        assert.equal(r.status, 200, path);
        assert.deepEqual(headerValues(r.headers, 'content-length'), length === null ? [] : [length], `${path}: content-length`);
        if (body !== null) assert.equal(r.body.toString(), body, path);
        if (length !== null) assert.equal(r.body.length, Number(length), `${path}: body length`);
      }
      // HEAD: the length of the body GET would send, and no body.
      ch.request(++id, 'HEAD', '/text');
      const head = await ch.response(id);
      assert.deepEqual(headerValues(head.headers, 'content-length'), ['11']);
      assert.equal(head.body.length, 0);
    });
  });
});
