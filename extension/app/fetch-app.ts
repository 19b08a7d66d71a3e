// A fetch handler (`(Request) => Response`, as Hono and the WinterCG frameworks export) served as a
// Node request listener: the request body streams into `Request.body`, the response body streams
// out of `Response.body`, both with backpressure; a client that goes away aborts `request.signal`.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
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

async function send(res: ServerResponse, response: Response, method: string): Promise<void> {
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers.push([name, value]);
  });
  for (const cookie of response.headers.getSetCookie()) headers.push(['set-cookie', cookie]);
  res.writeHead(response.status, response.statusText || undefined, headers.flat());
  const body = response.body;
  if (body === null || method === 'HEAD') {
    if (body !== null) await body.cancel().catch(() => {});
    res.end();
    return;
  }
  const source = Readable.fromWeb(body as unknown as NodeReadableStream<Uint8Array>);
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      // The client went away: stop reading the app's body.
      if (!res.writableFinished) source.destroy();
      done();
    };
    res.once('close', onClose);
    source.on('error', (err) => {
      res.destroy(err);
      done();
    });
    source.on('end', () => {
      res.end();
    });
    res.once('finish', done);
    source.pipe(res, { end: false });
  });
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
