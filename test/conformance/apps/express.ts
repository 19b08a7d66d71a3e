// The conformance routes (shared.ts) as an Express app, written once for Express 4 and 5 (the
// routes use nothing that differs between them); express4.ts and express5.ts pick the major.
// /range is res.sendFile (express.static's `send`: Range, ETag, Last-Modified), the rest the usual res helpers;
// trailers, Early Hints and the reason phrase through Node's response object, as Express apps do.

import { createServer } from 'node:http';
import type * as ExpressNS from 'express';
import { listening, type ConformanceApp } from './app.ts';
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
  hold,
  intParam,
  rangeFile,
  sseEvent,
} from './shared.ts';

type ExpressFactory = typeof ExpressNS.default;

export function expressApp(express: ExpressFactory): ExpressNS.Express {
  const app = express();
  const file = rangeFile();
  app.get('/health', (_req, res) => void res.type('text/plain').send('ok'));
  app.get('/json', (_req, res) => void res.json(JSON_BODY));
  app.get('/text', (_req, res) => void res.type('text/plain').send(TEXT_BODY));
  app.get('/bytes', (_req, res) => void res.type('application/octet-stream').send(BYTES));
  app.get('/redirect', (_req, res) => res.redirect(302, '/text'));
  app.get('/cookies', (_req, res) => {
    res.cookie('a', '1', { path: '/' });
    res.cookie('b', '2', { path: '/', httpOnly: true });
    res.type('text/plain').send('two cookies\n');
  });
  // res.send answers 304 itself when the request is fresh (If-None-Match matches the ETag).
  app.get('/etag', (_req, res) => void res.set('ETag', ETAG).type('text/plain').send(ETAG_BODY));
  app.get('/range', (_req, res) => res.sendFile(file));
  app.get('/empty', (_req, res) => void res.status(204).end());
  app.post('/echo', (req, res) => {
    res.status(200).type(req.get('content-type') ?? 'application/octet-stream');
    const length = req.get('content-length');
    if (length !== undefined) res.set('content-length', length);
    req.pipe(res);
  });
  app.get('/download', (req, res) => {
    const mb = intParam(req.query.mb, 1, 64);
    res.type('application/octet-stream').set('content-length', String(mb << 20));
    downloadStream(mb).pipe(res);
  });
  app.get('/query', (req, res) => void res.json({ url: req.originalUrl, query: req.query }));
  app.get('/sse', (req, res) => {
    const count = intParam(req.query.count, 3, 50);
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
  app.get('/hold', (req, res, next) => {
    hold(intParam(req.query.at, 0, 65535)).then((text) => void res.type('text/plain').send(text), next);
  });
  app.get('/forever', (_req, res) => {
    const source = foreverStream();
    res.type('application/octet-stream');
    source.pipe(res);
    res.on('close', () => source.destroy());
  });
  app.get('/trailers', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
    for (const part of TRAILER_PARTS) res.write(part);
    res.addTrailers({ 'x-checksum': TRAILER_CHECKSUM });
    res.end();
  });
  app.get('/early-hints', (_req, res) => {
    res.writeEarlyHints({ link: EARLY_HINTS_LINK });
    res.type('text/plain').send('after the hints\n');
  });
  app.get('/reason', (_req, res) => {
    res.statusMessage = REASON;
    res.status(299).type('text/plain').send('a custom reason\n');
  });
  return app;
}

export function expressConformance(name: string, label: string, express: ExpressFactory): ConformanceApp {
  return {
    name,
    label,
    listen: (port, host) => listening(createServer(expressApp(express)), port, host),
    handlerApp: async () => expressApp(express),
    trailers: true,
    earlyHints: true,
  directKeepsReason: true,
  };
}
