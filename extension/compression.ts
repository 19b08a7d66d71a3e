// Response compression: gzip when the client accepts it, the type is textual and the
// body is over 1 KiB or of unknown length (chunked responses included). Bodies already encoded
// (`content-encoding` set by the app, e.g. br), ranges, bodiless answers and `no-transform` pass
// untouched. The body is streamed through zlib, never buffered whole; a chunk that is not followed
// by another one right away is flushed, so a streaming response still streams.

import type { Readable } from 'node:stream';
import zlib from 'node:zlib';

/** Bodies of a known length at or under this are not worth compressing. */
export const MIN_COMPRESS_BYTES = 1024;

/** True when the Accept-Encoding values (repeats allowed) accept gzip (`gzip`, `x-gzip` or `*`, with q > 0). */
export function acceptsGzip(values: readonly string[]): boolean {
  let star = false;
  for (const value of values) {
    for (const part of value.split(',')) {
      const [token, ...params] = part.split(';');
      const name = token!.trim().toLowerCase();
      let q = 1;
      for (const p of params) {
        const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
        if (m) q = Number(m[1]);
      }
      if (name === 'gzip' || name === 'x-gzip') return q > 0;
      if (name === '*') star = q > 0;
    }
  }
  return star;
}

/** text/* (except event streams), JSON, JavaScript, XML, SVG and other textual application types. */
export function isTextual(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'text/event-stream') return false; // each event must reach the client at once
  if (type.startsWith('text/')) return true;
  if (type.endsWith('+json') || type.endsWith('+xml')) return true; // also image/svg+xml
  return (
    type === 'application/json' ||
    type === 'application/javascript' ||
    type === 'application/x-javascript' ||
    type === 'application/ecmascript' ||
    type === 'application/xml' ||
    type === 'application/graphql-response+json' ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'application/wasm' // not text, but compresses as well as text does
  );
}

// Names are compared by length first: most headers differ in length from the one looked for, and
// a lower-cased copy of each name would be garbage for every response, compressed or not.
const named = (candidate: string, name: string) => candidate.length === name.length && candidate.toLowerCase() === name;

function first(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (named(headers[i]!, name)) return headers[i + 1];
  return undefined;
}

function all(headers: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (named(headers[i]!, name)) out.push(headers[i + 1]!);
  return out;
}

/**
 * Whether to gzip this response. `requestHeaders` and `responseHeaders` are flat [name, value, …]
 * lists (response names lower-case, as endToEndHeaders returns them).
 */
export function shouldCompress(method: string, requestHeaders: readonly string[], status: number, responseHeaders: readonly string[]): boolean {
  if (method === 'HEAD' || status < 200 || status === 204 || status === 206 || status === 304) return false;
  if (!acceptsGzip(all(requestHeaders, 'accept-encoding'))) return false;
  const encoding = first(responseHeaders, 'content-encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return false;
  if (first(responseHeaders, 'content-range') !== undefined) return false;
  if (/(^|,)\s*no-transform\s*(,|$)/i.test(all(responseHeaders, 'cache-control').join(','))) return false;
  if (!isTextual(first(responseHeaders, 'content-type'))) return false;
  const length = first(responseHeaders, 'content-length');
  if (length !== undefined && Number(length) <= MIN_COMPRESS_BYTES) return false;
  return true;
}

/** The response headers once the body is gzipped: no length, `content-encoding: gzip`, `vary: accept-encoding`, weak ETags. */
export function gzipHeaders(headers: readonly string[]): string[] {
  const out: string[] = [];
  let varied = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    let value = headers[i + 1]!;
    if (name === 'content-length' || name === 'content-encoding') continue;
    if (name === 'vary') {
      if (/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(value)) varied = true;
      else value = `${value}, accept-encoding`;
      varied = true;
    }
    // The representation changed: a strong validator no longer matches it byte for byte.
    if (name === 'etag' && !value.startsWith('W/')) value = `W/${value}`;
    out.push(name, value);
  }
  out.push('content-encoding', 'gzip');
  if (!varied) out.push('vary', 'accept-encoding');
  return out;
}

/**
 * Pipes `source` through gzip and returns the compressed stream. Backpressure is kept (pausing the
 * returned stream pauses `source` once zlib's buffers are full); when `source` has nothing more
 * buffered after a chunk, zlib is flushed so that the bytes so far reach the client now.
 */
export function gzipStream(source: Readable): zlib.Gzip {
  const gzip = zlib.createGzip({ level: 6 });
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (!gzip.destroyed && !gzip.writableEnded) gzip.flush(zlib.constants.Z_SYNC_FLUSH);
  };
  source.on('data', () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  });
  source.on('error', (err) => gzip.destroy(err));
  source.pipe(gzip);
  return gzip;
}
