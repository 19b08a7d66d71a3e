// The conformance routes (shared.ts) as a Koa app with @koa/router. Koa's context for what it has
// (ctx.body streams, ctx.etag + ctx.fresh, ctx.redirect, ctx.cookies, ctx.message for the reason
// phrase, ctx.flushHeaders for the event stream); Node's response (ctx.res) for Early Hints, and
// for trailers with `ctx.respond = false`, which Koa leaves to the raw response.

import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import { installedVersion, listening, type ConformanceApp } from './app.ts';
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

export function koaApp(): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = 'ok';
  });
  router.get('/json', (ctx) => {
    ctx.body = JSON_BODY;
  });
  router.get('/text', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = TEXT_BODY;
  });
  router.get('/bytes', (ctx) => {
    ctx.type = 'application/octet-stream';
    ctx.body = BYTES;
  });
  router.get('/redirect', (ctx) => {
    ctx.status = 302;
    ctx.redirect('/text');
  });
  router.get('/cookies', (ctx) => {
    ctx.cookies.set('a', '1', { path: '/', httpOnly: false });
    ctx.cookies.set('b', '2', { path: '/', httpOnly: true });
    ctx.type = 'text/plain';
    ctx.body = 'two cookies\n';
  });
  router.get('/etag', (ctx) => {
    ctx.status = 200;
    ctx.etag = ETAG;
    ctx.type = 'text/plain';
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = ETAG_BODY;
  });
  router.get('/range', (ctx) => {
    const a = answerRange(ctx.get('range') || undefined);
    ctx.status = a.status;
    ctx.set(a.headers);
    ctx.body = a.body;
  });
  router.get('/empty', (ctx) => {
    ctx.status = 204;
  });
  router.post('/echo', (ctx) => {
    ctx.status = 200;
    ctx.type = ctx.get('content-type') || 'application/octet-stream';
    ctx.body = ctx.req;
    // After the body: a stream body removes any content-length.
    const length = ctx.get('content-length');
    if (length !== '') ctx.length = Number(length);
  });
  router.get('/download', (ctx) => {
    const mb = intParam(ctx.query.mb, 1, 64);
    ctx.type = 'application/octet-stream';
    ctx.body = downloadStream(mb);
    ctx.length = mb << 20;
  });
  router.get('/query', (ctx) => {
    ctx.body = { url: ctx.originalUrl, query: ctx.query };
  });
  router.get('/sse', (ctx) => {
    const count = intParam(ctx.query.count, 3, 50);
    const stream = new PassThrough();
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('cache-control', 'no-cache');
    ctx.body = stream;
    ctx.flushHeaders();
    let i = 0;
    const timer = setInterval(() => {
      stream.write(sseEvent(++i));
      if (i >= count) {
        clearInterval(timer);
        stream.end();
      }
    }, SSE_INTERVAL_MS);
    ctx.res.on('close', () => clearInterval(timer));
  });
  router.get('/hold', async (ctx) => {
    const text = await hold(intParam(ctx.query.at, 0, 65535));
    ctx.type = 'text/plain';
    ctx.body = text;
  });
  router.get('/forever', (ctx) => {
    ctx.type = 'application/octet-stream';
    ctx.body = foreverStream();
  });
  router.get('/trailers', (ctx) => {
    ctx.respond = false;
    const res = ctx.res;
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
    for (const part of TRAILER_PARTS) res.write(part);
    res.addTrailers({ 'x-checksum': TRAILER_CHECKSUM });
    res.end();
  });
  router.get('/early-hints', (ctx) => {
    ctx.res.writeEarlyHints({ link: EARLY_HINTS_LINK });
    ctx.type = 'text/plain';
    ctx.body = 'after the hints\n';
  });
  router.get('/reason', (ctx) => {
    ctx.status = 299;
    ctx.message = REASON;
    ctx.type = 'text/plain';
    ctx.body = 'a custom reason\n';
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

export const app: ConformanceApp = {
  name: 'koa',
  label: `Koa ${installedVersion('koa')} + @koa/router ${installedVersion('@koa/router')}`,
  listen: (port, host) => listening(createServer(koaApp().callback()), port, host),
  // Koa's request listener, as the README says: app.callback().
  handlerApp: async () => koaApp().callback(),
  trailers: true,
  earlyHints: true,
  directKeepsReason: true,
};
