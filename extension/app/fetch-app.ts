// A fetch handler (`(Request) => Response`, as Hono and the WinterCG frameworks export) served as a
// Node request listener: the request body streams into `Request.body`, the response body streams
// out of `Response.body`, both with backpressure; a client that goes away aborts `request.signal`.
// A body of known length keeps its content-length, and a head whose body is not there yet goes
// out at once (send()).

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FetchHandler } from '../types.ts';

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // A value the Fetch API refuses (it is stricter than HTTP/1.1 parsers): left out.
    }
  }
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0]?.trim() || 'http';
  const host = req.headers.host ?? 'localhost';
  const url = new URL(req.url ?? '/', `${proto === 'https' ? 'https' : 'http'}://${host}`);
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (hasBody) {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  } else {
    req.resume();
  }
  return new Request(url, init);
}

/** At most this many reads of a body are tried without waiting before it is streamed instead. */
const EAGER_READS = 8;
const NOT_YET = Symbol('not yet');
type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;

/**
 * The read's result if it settles within a few turns of the event loop, else NOT_YET (the read goes
 * on). A few, not one: Node 24 reads a Blob's stream over more than one turn.
 */
function readSoon(read: Promise<ReadResult>): Promise<ReadResult | typeof NOT_YET> {
  const later = new Promise<typeof NOT_YET>((resolve) => setImmediate(() => setImmediate(() => setImmediate(resolve, NOT_YET))));
  return Promise.race([read, later]);
}

/** Resolves at the response's next 'drain' or 'close'. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes `response` to `res`. A body that is all there already (a string, bytes, a Blob,
 * URLSearchParams, JSON: what `new Response(x)` makes from a known source, which undici streams
 * out within a turn of the event loop) goes with its content-length, as a direct server such as
 * @hono/node-server sends it. Any other body streams chunked, with backpressure; when none of it
 * is there yet (SSE, a long poll) the head goes out at once rather than with the first byte.
 */
async function send(res: ServerResponse, response: Response, method: string): Promise<void> {
  const headers: [string, string][] = [];
  let framed = false;
  response.headers.forEach((value, name) => {
    if (name === 'content-length' || name === 'transfer-encoding') framed = true;
    if (name !== 'set-cookie') headers.push([name, value]);
  });
  for (const cookie of response.headers.getSetCookie()) headers.push(['set-cookie', cookie]);
  const reason = response.statusText || undefined;
  const body = response.body;
  if (body === null) {
    res.writeHead(response.status, reason, headers.flat()).end();
    return;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let done = false;
  let pending: Promise<ReadResult> | null = null;
  try {
    for (let i = 0; i < EAGER_READS; i++) {
      const read = reader.read();
      const r = await readSoon(read);
      if (r === NOT_YET) {
        pending = read;
        break;
      }
      if (r.done) {
        done = true;
        break;
      }
      chunks.push(r.value);
      bytes += r.value.byteLength;
    }
  } catch (err) {
    // The body failed before anything was sent: as a stream failing mid-way, the response is cut.
    res.writeHead(response.status, reason, headers.flat());
    res.destroy(err as Error);
    return;
  }
  if (done && !framed) headers.push(['content-length', String(bytes)]);
  res.writeHead(response.status, reason, headers.flat());
  if (method === 'HEAD') {
    if (!done) await reader.cancel().catch(() => {});
    res.end();
    return;
  }
  for (const chunk of chunks) res.write(chunk);
  if (done) {
    res.end();
    return;
  }
  if (chunks.length === 0) res.flushHeaders();
  let closed = false;
  const onClose = () => {
    closed = true;
    // The client went away: stop reading the app's body.
    if (!res.writableFinished) reader.cancel().catch(() => {});
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const r = await (pending ?? reader.read());
      pending = null;
      if (closed) return;
      if (r.done) break;
      if (!res.write(r.value)) await drained(res);
      if (closed) return;
    }
  } catch (err) {
    res.off('close', onClose);
    if (!closed) res.destroy(err as Error);
    return;
  }
  res.off('close', onClose);
  res.end();
}

export function fetchListener(fetch: FetchHandler): RequestListener {
  return (req, res) => {
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client went away'));
    });
    let request: Request;
    try {
      request = toRequest(req, controller.signal);
    } catch (err) {
      req.resume();
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(`bad request: ${(err as Error).message}\n`);
      return;
    }
    Promise.resolve()
      .then(() => fetch(request))
      .then(
        (response) => {
          if (!(response instanceof Response)) throw new TypeError(`the fetch handler returned ${typeof response}, not a Response`);
          return send(res, response, request.method);
        },
        (err: unknown) => {
          if (res.headersSent) return void res.destroy(err as Error);
          console.error('lambda-dispatch: the fetch handler threw:', err);
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal server error\n');
        },
      )
      .catch((err: unknown) => {
        if (!res.headersSent) {
          console.error('lambda-dispatch: the fetch handler failed:', err);
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal server error\n');
        } else res.destroy(err as Error);
      });
  };
}
