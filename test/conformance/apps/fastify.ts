// The conformance routes (shared.ts) as a Fastify app. Fastify's reply API where it has one
// (reply.trailer, reply.writeEarlyHints, reply.redirect, streams as payloads, a catch-all content
// type parser that hands POST /echo the raw request stream); the raw response for the reason
// phrase, and for the event stream (reply.hijack(), then the head flushed by hand). Behind
// lambda-dispatch it is served through `fastify.routing` after `ready()`.

import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { installedVersion, type ConformanceApp } from './app.ts';
import { answerRange } from './range.ts';
import {
  BYTES,
  EARLY_HINTS_LINK,
  ETAG,
  ETAG_BODY,
  JSON_BODY,
  REASON,
  SSE_INTERVAL_MS,
  TEXT_BODY,
  TRAILER_CHECKSUM,
  TRAILER_PARTS,
  downloadStream,
  foreverStream,
  intParam,
  hold,
  sseEvent,
} from './shared.ts';

type Query = Record<string, string | string[] | undefined>;

export function fastifyApp(): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 128 * 1024 * 1024 });
  // Any body that is not JSON or text arrives as the raw stream.
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.get('/health', async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/json', async () => JSON_BODY);
  app.get('/text', async (_req, reply) => reply.type('text/plain').send(TEXT_BODY));
  app.get('/bytes', async (_req, reply) => reply.type('application/octet-stream').send(BYTES));
  app.get('/redirect', async (_req, reply) => reply.redirect('/text', 302));
  app.get('/cookies', async (_req, reply) =>
    reply.header('set-cookie', ['a=1; Path=/', 'b=2; Path=/; HttpOnly']).type('text/plain').send('two cookies\n'),
  );
  app.get('/etag', async (req, reply) => {
    reply.header('etag', ETAG).type('text/plain');
    if (req.headers['if-none-match'] === ETAG) return reply.code(304).send();
    return reply.send(ETAG_BODY);
  });
  app.get('/range', async (req, reply) => {
    const a = answerRange(req.headers.range);
    return reply.code(a.status).headers(a.headers).send(a.body);
  });
  app.get('/empty', async (_req, reply) => reply.code(204).send());
  app.post('/echo', async (req, reply) => {
    reply.type(req.headers['content-type'] ?? 'application/octet-stream');
    const length = req.headers['content-length'];
    if (length !== undefined) reply.header('content-length', length);
    return reply.send(req.body as NodeJS.ReadableStream);
  });
  app.get('/download', async (req, reply) => {
    const mb = intParam((req.query as Query).mb, 1, 64);
    return reply.type('application/octet-stream').header('content-length', String(mb << 20)).send(downloadStream(mb));
  });
  app.get('/query', async (req) => ({ url: req.url, query: req.query }));
  app.get('/sse', (req, reply) => {
    const count = intParam((req.query as Query).count, 3, 50);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    let i = 0;
    const timer = setInterval(() => {
      res.write(sseEvent(++i));
      if (i >= count) {
        clearInterval(timer);
        res.end();
      }
    }, SSE_INTERVAL_MS);
    res.on('close', () => clearInterval(timer));
  });
  app.get('/hold', async (req, reply) => {
    return reply.type('text/plain').send(await hold(intParam((req.query as Query).at, 0, 65535)));
  });
  app.get('/forever', async (_req, reply) => reply.type('application/octet-stream').send(foreverStream()));
  app.get('/trailers', async (_req, reply) => {
    const body = new PassThrough();
    reply.type('text/plain').trailer('x-checksum', async () => TRAILER_CHECKSUM);
    for (const part of TRAILER_PARTS) body.write(part);
    body.end();
    return reply.send(body);
  });
  app.get('/early-hints', async (_req, reply) => {
    // Not awaited: it returns the reply, whose then() waits for the response to be sent.
    reply.writeEarlyHints({ link: EARLY_HINTS_LINK });
    return reply.type('text/plain').send('after the hints\n');
  });
  app.get('/reason', async (_req, reply) => {
    reply.raw.statusMessage = REASON;
    return reply.code(299).type('text/plain').send('a custom reason\n');
  });
  return app;
}

export const app: ConformanceApp = {
  name: 'fastify',
  label: `Fastify ${installedVersion('fastify')}`,
  listen: async (port, host) => {
    const f = fastifyApp();
    await f.listen({ port, host });
    return f.server;
  },
  handlerApp: async () => {
    const f = fastifyApp();
    await f.ready();
    return (req, res) => f.routing(req, res);
  },
  trailers: true,
  earlyHints: true,
  directKeepsReason: true,
};
