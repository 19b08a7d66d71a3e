// The conformance routes (shared.ts) as a Hono app: a fetch handler, served directly by
// @hono/node-server and behind lambda-dispatch as an object with a `fetch` method.
//
// No /trailers and no /early-hints, by design: a fetch handler's answer is one Response, whose
// model has neither trailer fields nor interim (1xx) responses. (@hono/node-server's early-hints
// middleware writes to Node's raw response through its own bindings, which no fetch handler has.)

import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { etag } from 'hono/etag';
import { streamSSE } from 'hono/streaming';
import { installedVersion, type ConformanceApp } from './app.ts';
import { answerRange } from './range.ts';
import {
  BYTES,
  ETAG_BODY,
  JSON_BODY,
  REASON,
  SSE_INTERVAL_MS,
  TEXT_BODY,
  downloadWebStream,
  foreverWebStream,
  intParam,
  hold,
} from './shared.ts';

export function honoApp(): Hono {
  const app = new Hono();
  app.get('/health', (c) => c.text('ok'));
  app.get('/json', (c) => c.json(JSON_BODY));
  app.get('/text', (c) => c.text(TEXT_BODY));
  app.get('/bytes', (c) => c.body(new Uint8Array(BYTES), 200, { 'content-type': 'application/octet-stream' }));
  app.get('/redirect', (c) => c.redirect('/text', 302));
  app.get('/cookies', (c) => {
    setCookie(c, 'a', '1', { path: '/' });
    setCookie(c, 'b', '2', { path: '/', httpOnly: true });
    return c.text('two cookies\n');
  });
  // hono/etag computes the ETag from the body and answers 304 to a matching If-None-Match.
  app.get('/etag', etag(), (c) => c.text(ETAG_BODY));
  app.get('/range', (c) => {
    const a = answerRange(c.req.header('range'));
    return c.body(new Uint8Array(a.body), a.status, a.headers);
  });
  app.get('/empty', (c) => c.body(null, 204));
  app.post('/echo', (c) => {
    const headers: Record<string, string> = { 'content-type': c.req.header('content-type') ?? 'application/octet-stream' };
    const length = c.req.header('content-length');
    if (length !== undefined) headers['content-length'] = length;
    return new Response(c.req.raw.body, { status: 200, headers });
  });
  app.get('/download', (c) => {
    const mb = intParam(c.req.query('mb'), 1, 64);
    return new Response(downloadWebStream(mb), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(mb << 20) },
    });
  });
  app.get('/query', (c) => {
    const url = new URL(c.req.url);
    return c.json({ url: url.pathname + url.search, query: c.req.queries() });
  });
  app.get('/sse', (c) => {
    const count = intParam(c.req.query('count'), 3, 50);
    return streamSSE(c, async (stream) => {
      for (let i = 1; i <= count; i++) {
        await stream.sleep(SSE_INTERVAL_MS);
        await stream.writeSSE({ id: String(i), data: `tick ${i}` });
      }
    });
  });
  app.get('/hold', async (c) => {
    return c.text(await hold(intParam(c.req.query('at'), 0, 65535)));
  });
  app.get('/forever', () => new Response(foreverWebStream(), { headers: { 'content-type': 'application/octet-stream' } }));
  app.get('/reason', () => new Response('a custom reason\n', { status: 299, statusText: REASON, headers: { 'content-type': 'text/plain' } }));
  return app;
}

export const app: ConformanceApp = {
  name: 'hono',
  label: `Hono ${installedVersion('hono')} (direct: @hono/node-server ${installedVersion('@hono/node-server')})`,
  listen: (port, host) =>
    new Promise<Server>((resolve) => {
      const server = serve({ fetch: honoApp().fetch, port, hostname: host }, () => resolve(server as Server)) as Server;
    }),
  handlerApp: async () => honoApp(),
  trailers: false,
  earlyHints: false,
  // @hono/node-server writes the status without the Response's statusText: Node then says "unknown" for 299.
  directKeepsReason: false,
};
