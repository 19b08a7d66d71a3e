// HTTP fidelity through the whole system (client → router → local Lambda → extension → app), for
// each kind of app: a head the app sent without its body reaches the client while the body is
// still held; a 103 reaches a raw-socket client before the final response; a custom reason phrase
// arrives verbatim; trailers reach a client that reads them; a fetch handler's body of known
// length keeps its content-length. Held responses wait on this test's release server, which
// answers only when the test lets them go: every check here is an ordering, not a timing.

import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fidelityListener } from './fixtures/fidelity-app.ts';
import { call, startStack, type Stack } from './stack.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const BOUND_MS = 30_000; // turns a hang into a failure; never a timing assertion

// ── the release server: GET /<name> is answered when the test opens that gate ────────────────

const gates = new Map<string, { promise: Promise<void>; resolve: () => void }>();
function gate(name: string) {
  let g = gates.get(name);
  if (g === undefined) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    g = { promise, resolve };
    gates.set(name, g);
  }
  return g;
}
const open = (name: string) => gate(name).resolve();
const releaseServer = http.createServer((req, res) => {
  void gate(decodeURIComponent((req.url ?? '/').slice(1))).promise.then(() => res.end('go'));
});
let releaseUrl = '';

before(async () => {
  await new Promise<void>((r) => releaseServer.listen(0, '127.0.0.1', r));
  releaseUrl = `http://127.0.0.1:${(releaseServer.address() as AddressInfo).port}`;
});
after(() => {
  releaseServer.closeAllConnections();
  releaseServer.close();
});

// ── clients ──────────────────────────────────────────────────────────────────────────────────

/** Resolves with `what` once it happens, or with null after BOUND_MS. */
function within<T>(p: Promise<T>): Promise<T | null> {
  return Promise.race([p, new Promise<null>((r) => setTimeout(r, BOUND_MS, null).unref())]);
}

/** GET /held: the response's head must come while the body is held, then the body once released. */
async function headBeforeBody(base: string, name: string): Promise<void> {
  const req = http.get(new URL(`/held?name=${name}`, base));
  const res = await within(new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject)));
  open(name);
  assert.ok(res !== null, 'the client got no head while the body was held: the head waited for the body');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/event-stream');
  let body = '';
  for await (const chunk of res) body += String(chunk);
  assert.equal(body, 'data: released\n\n');
}

/** A raw HTTP exchange: what arrived up to `until` (a marker) before `beforeRest` is run, then the rest to the close. */
async function raw(base: string, request: string, until: string, beforeRest: () => void = () => {}): Promise<{ first: string; all: string }> {
  const { port } = new URL(base);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.setEncoding('latin1');
  let all = '';
  let first: string | null = null;
  let sawFirst!: () => void;
  const firstSeen = new Promise<void>((r) => (sawFirst = r));
  const closed = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: string) => {
      all += d;
      if (first === null && all.includes(until)) {
        first = all;
        sawFirst();
      }
    });
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  socket.write(request);
  const seen = await within(firstSeen.then(() => true));
  beforeRest();
  assert.ok(seen !== null, `nothing up to ${JSON.stringify(until)} arrived first; got ${JSON.stringify(all)}`);
  await within(closed);
  return { first: first!, all };
}

const get = (path: string, version = '1.1') => `GET ${path} HTTP/${version}\r\nHost: fidelity.test\r\nConnection: close\r\n\r\n`;

/** The 1xx, reason and trailer checks against a stack serving fidelityListener (directly or on a port). */
async function listenerChecks(base: string, tag: string): Promise<void> {
  // A 103 comes to the client before the final response, which the app sends only once released.
  const name = `hints-${tag}`;
  const hints = await raw(base, get(`/early-hints?name=${name}`), '\r\n\r\n', () => open(name));
  assert.match(hints.first, /^HTTP\/1\.1 103 Early Hints\r\n/);
  assert.match(hints.first.toLowerCase(), /\r\nlink: <\/style\.css>; rel=preload; as=style\r\n/);
  assert.match(hints.first.toLowerCase(), /\r\nx-hint: early\r\n/);
  assert.doesNotMatch(hints.first, /HTTP\/1\.1 200/, 'the final head came only after the release');
  assert.match(hints.all, /\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  assert.match(hints.all, /\r\nafter hints\r\n/);

  // Node's client reports it as 'information'.
  const info: number[] = [];
  const viaClient = await new Promise<string>((resolve, reject) => {
    const req = http.get(new URL('/processing', base), (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
    });
    req.on('information', (i) => info.push(i.statusCode)).on('error', reject);
  });
  assert.deepEqual(info, [102]);
  assert.equal(viaClient, 'processed');

  // An HTTP/1.0 client gets no 1xx (RFC 9110 §15.2), only the final response.
  const old = await raw(base, get('/early-hints', '1.0'), '\r\n\r\n');
  assert.match(old.all, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(old.all, / 103 /);

  // The reason phrase, verbatim.
  const reason = await raw(base, get('/reason'), '\r\n');
  assert.match(reason.all, /^HTTP\/1\.1 299 Custom Reason\r\n/);

  // Trailers, to a client that reads them.
  const trailers = await new Promise<{ body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
    http
      .get(new URL('/trailers', base), { headers: { te: 'trailers' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ body, trailers: res.trailers }));
      })
      .on('error', reject);
  });
  assert.equal(trailers.body, 'part1part2');
  assert.equal(trailers.trailers['x-checksum'], 'abc123');
}

describe('HTTP fidelity through the router', () => {
  test('request listener', async () => {
    const stack: Stack = await startStack({ lambda: { handlerModule: fixture('fidelity-listener-function.ts'), env: { FIDELITY_RELEASE_URL: releaseUrl } } });
    try {
      await headBeforeBody(stack.router.url, 'listener-1');
      await listenerChecks(stack.router.url, 'listener');
    } finally {
      await stack.close();
    }
  });

  test('{ port } app', async () => {
    const app = http.createServer(fidelityListener((name) => gate(name).promise));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const port = (app.address() as AddressInfo).port;
    const stack = await startStack({ lambda: { handlerModule: fixture('port-function.ts'), env: { APP_PORT: String(port) } } });
    try {
      await headBeforeBody(stack.router.url, 'port-1');
      await listenerChecks(stack.router.url, 'port');
    } finally {
      await stack.close();
      app.closeAllConnections();
      app.close();
    }
  });

  test('fetch handler', async () => {
    const stack = await startStack({ lambda: { handlerModule: fixture('fidelity-fetch-function.ts'), env: { FIDELITY_RELEASE_URL: releaseUrl } } });
    try {
      await headBeforeBody(stack.router.url, 'fetch-1');
      const reason = await raw(stack.router.url, get('/reason'), '\r\n');
      assert.match(reason.all, /^HTTP\/1\.1 299 Custom Reason\r\n/);
      const text = await call(stack.router.url, '/text');
      assert.equal(text.headers['content-length'], '11');
      assert.equal(text.headers['transfer-encoding'], undefined);
      assert.equal(text.body.toString(), 'hello fetch');
      const bytes = await call(stack.router.url, '/bytes');
      assert.equal(bytes.headers['content-length'], '1000');
      const stream = await call(stack.router.url, '/stream');
      assert.equal(stream.headers['content-length'], undefined);
      assert.equal(stream.headers['transfer-encoding'], 'chunked');
      assert.equal(stream.body.toString(), 'one,two');
    } finally {
      await stack.close();
    }
  });
});
