// What every conformance app serves, byte for byte: the bodies, the timings and the small helpers
// the frameworks share (range parsing, the download and streaming sources). Each framework's app
// (express.ts, koa.ts, fastify.ts, hono.ts) exposes the same routes with its own idioms:
//
//   GET  /health          200 "ok" (the readiness path of the `{ port, command }` mode)
//   GET  /json            JSON_BODY through the framework's JSON helper
//   GET  /text            TEXT_BODY, text/plain
//   GET  /bytes           BYTES (64 KiB of binary), application/octet-stream
//   GET  /redirect        302 to /text
//   GET  /cookies         two Set-Cookie headers
//   GET  /etag            ETAG_BODY with ETag: ETAG; 304 when If-None-Match matches
//   GET  /range           RANGE_BODY, 206 for a Range request (express: express.static's send; others by hand)
//   GET  /empty           204
//   POST /echo            the request body streamed back (its content-type, and its content-length when it had one)
//   GET  /download?mb=N   N MiB of DOWNLOAD_BLOCK, with content-length, streamed
//   GET  /query?…         JSON { url, query } of the request target as the app saw it
//   GET  /sse?count=N     text/event-stream: the head flushed at once, then an event every SSE_INTERVAL_MS
//   GET  /hold?at=PORT    "held <pid>" once GET http://127.0.0.1:PORT/ has answered: a request held open until the
//                         test releases it (a barrier), the pid telling apart the app processes of `{ port, command }`
//   GET  /forever         16 KiB every 50 ms until the client leaves (at most 60 s)
//   GET  /trailers        chunked body with the trailer x-checksum (not Hono: see hono.ts)
//   GET  /early-hints     103 Early Hints (Link), then 200 (not Hono: see hono.ts)
//   GET  /reason          299 with the reason phrase "Custom Reason"

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get as httpGet } from 'node:http';
import { Readable } from 'node:stream';

/** Bytes that look random, the same in every process (sha256 in counter mode). */
export function deterministicBytes(length: number, seed: string): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0, off = 0; off < length; i++) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest();
    off += block.copy(out, off);
  }
  return out;
}

export const JSON_BODY = { hello: 'world', n: [1, 2, 3], nested: { ok: true }, unicode: 'žluťoučký kůň 🐎' };
export const TEXT_BODY = 'hello from the conformance app\n';
export const BYTES = deterministicBytes(64 * 1024, 'bytes');
export const ETAG = '"conformance-v1"';
export const ETAG_BODY = 'the entity behind the etag\n';
export const RANGE_BODY = deterministicBytes(100_000, 'range');
export const DOWNLOAD_BLOCK = deterministicBytes(1 << 20, 'download');
export const SSE_INTERVAL_MS = 200;
export const TRAILER_PARTS = ['first part\n', 'second part\n'];
export const TRAILER_CHECKSUM = createHash('sha256').update(TRAILER_PARTS.join('')).digest('hex');
export const EARLY_HINTS_LINK = '</style.css>; rel=preload; as=style';
export const REASON = 'Custom Reason';
export const sseEvent = (i: number) => `id: ${i}\ndata: tick ${i}\n\n`;

/**
 * RANGE_BODY as a file with a fixed mtime, for express.static's `send`: its ETag and Last-Modified
 * come from size and mtime, so every process (the direct app, environments, app processes) serves
 * the same validators. Written once per content, atomically (several processes may race).
 */
export function rangeFile(): string {
  const dir = join(tmpdir(), 'lambda-dispatch-conformance');
  const file = join(dir, `range-${createHash('sha256').update(RANGE_BODY).digest('hex').slice(0, 12)}.bin`);
  let same = false;
  try {
    same = readFileSync(file).equals(RANGE_BODY);
  } catch {
    // not there yet
  }
  if (!same) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, RANGE_BODY);
    renameSync(tmp, file);
  }
  const fixed = new Date('2024-01-02T03:04:05Z');
  utimesSync(file, fixed, fixed);
  return file;
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` of a body of `size`; null for no (or an ignored) Range, 'unsatisfiable' for 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'unsatisfiable';
  return { start, end };
}

/** `mb` MiB of DOWNLOAD_BLOCK as a Node stream (backpressure by pipe). */
export function downloadStream(mb: number): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < mb; i++) yield DOWNLOAD_BLOCK;
    })(),
    { objectMode: false },
  );
}

export function downloadWebStream(mb: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i++ < mb) controller.enqueue(new Uint8Array(DOWNLOAD_BLOCK));
      else controller.close();
    },
  });
}

const FOREVER_CHUNK = Buffer.alloc(16 * 1024, 'f');

/** 16 KiB every 50 ms for at most 60 s; destroying the stream stops the timer. */
export function foreverStream(): Readable {
  let timer: NodeJS.Timeout | null = null;
  let sent = 0;
  return new Readable({
    read() {
      if (timer !== null) return;
      timer = setTimeout(() => {
        timer = null;
        this.push(++sent > 1200 ? null : FOREVER_CHUNK);
      }, 50);
    },
    destroy(err, cb) {
      if (timer !== null) clearTimeout(timer);
      cb(err);
    },
  });
}

export function foreverWebStream(): ReadableStream<Uint8Array> {
  let timer: NodeJS.Timeout | null = null;
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      return new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          timer = null;
          if (++sent > 1200) controller.close();
          else controller.enqueue(new Uint8Array(FOREVER_CHUNK));
          resolve();
        }, 50);
      });
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
    },
  });
}

/** GET /hold: waits for the test's barrier on loopback port `port`, then names this process. */
export function hold(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(`held ${process.pid}`));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** A query parameter as a bounded integer. */
export function intParam(v: unknown, fallback: number, max: number): number {
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : fallback;
}
