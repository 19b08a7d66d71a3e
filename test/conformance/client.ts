// What a client sees of one response, reduced to what must not change between the app served
// directly and the same app behind the router: status, reason phrase, end-to-end headers (as a
// sorted multiset, so repeated set-cookie count), trailers, interim (1xx) responses and the
// body's length and sha256. Left out, because a proxy legitimately changes them: hop-by-hop
// headers (RFC 9110 §7.6.1, and any the Connection header names), Date, and the router's own
// x-forwarded-* and x-lambda-dispatch-* (which no app here sends). Content-Type compares as a media
// type (mediaType below); every other value byte for byte.

import { createHash } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { endToEndHeaders } from '../../core/http-headers.ts';


/** Lines `name: value` of a raw header list, less what a proxy may change, sorted. */
export function comparableHeaders(raw: readonly string[]): string[] {
  // The router's own rule for what a proxy drops (hop-by-hop and what `connection` names).
  const headers = endToEndHeaders(raw);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name === 'date' || name.startsWith('x-forwarded-') || name.startsWith('x-lambda-dispatch-')) continue;
    out.push(`${name}: ${name === 'content-type' ? mediaType(headers[i + 1]!) : headers[i + 1]}`);
  }
  return out.sort();
}

/**
 * A Content-Type as a media type: RFC 9110 §8.3.1 makes `text/plain;charset=UTF-8` and
 * `text/plain; charset=utf-8` the same, and runtimes differ there — a Hono app's `c.text()` is
 * `text/plain; charset=UTF-8` on @hono/node-server and `text/plain;charset=UTF-8` (the Fetch
 * standard's default) in any other fetch runtime, the extension's included. Type, subtype,
 * parameter names and the charset value compare case-insensitively, whitespace around `;` not at all.
 */
export function mediaType(value: string): string {
  const [type, ...params] = value.split(';').map((p) => p.trim());
  const norm = params
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      if (eq < 0) return p.toLowerCase();
      const name = p.slice(0, eq).trim().toLowerCase();
      const v = p.slice(eq + 1).trim();
      return `${name}=${name === 'charset' ? v.replace(/^"|"$/g, '').toLowerCase() : v}`;
    });
  return [type!.toLowerCase(), ...norm].join('; ');
}

export interface Seen {
  status: number;
  reason: string;
  headers: string[];
  trailers: string[];
  /** Interim responses other than 100 Continue, as `103 link: …` lines. */
  interim: string[];
  /** For `expect: 100-continue` requests: a 100 Continue came before the body was sent. */
  continued?: boolean;
  length: number;
  sha256: string;
}

export interface Ask {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Send `expect: 100-continue` and hold the body until 100 Continue (at most `continueWaitMs`). */
  expectContinue?: boolean;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * One request on its own connection, the whole response read and hashed as it streams (a 50 MB
 * body is never held whole). Bodies larger than a chunk are written with backpressure.
 */
export function observe(base: string, path: string, ask: Ask = {}, continueWaitMs = 3000): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...ask.headers };
    if (ask.body !== undefined) headers['content-length'] = String(ask.body.length);
    if (ask.expectContinue) headers.expect = '100-continue';
    const interim: string[] = [];
    let continued: boolean | undefined;
    const req = request(new URL(path, base), { method: ask.method ?? 'GET', headers, agent: false }, (res) => {
      const hash = createHash('sha256');
      let length = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        length += c.length;
      });
      res.on('end', () => {
        const trailers: string[] = [];
        for (let i = 0; i < res.rawTrailers.length; i += 2) trailers.push(`${res.rawTrailers[i]!.toLowerCase()}: ${res.rawTrailers[i + 1]}`);
        resolve({
          status: res.statusCode!,
          reason: res.statusMessage ?? '',
          headers: comparableHeaders(res.rawHeaders),
          trailers: trailers.sort(),
          interim,
          ...(continued !== undefined ? { continued } : {}),
          length,
          sha256: hash.digest('hex'),
        });
      });
      res.on('error', reject);
    });
    req.on('information', (info: { statusCode: number; rawHeaders: string[] }) => {
      if (info.statusCode === 100) return;
      const lines = [];
      for (let i = 0; i < info.rawHeaders.length; i += 2) lines.push(`${info.rawHeaders[i]!.toLowerCase()}: ${info.rawHeaders[i + 1]}`);
      interim.push(`${info.statusCode} ${lines.sort().join(' | ')}`);
    });
    req.on('error', reject);
    if (ask.expectContinue && ask.body !== undefined) {
      const body = ask.body;
      req.flushHeaders();
      // A server that never answers 100 would leave the client waiting: send the body anyway
      // after a while, as curl does, and record that no 100 came.
      const fallback = setTimeout(() => {
        continued = false;
        req.end(body);
      }, continueWaitMs);
      req.once('continue', () => {
        if (continued !== undefined) return;
        clearTimeout(fallback);
        continued = true;
        req.end(body);
      });
      req.once('response', () => clearTimeout(fallback));
      return;
    }
    req.end(ask.body);
  });
}

/** The differences between what the client saw directly and through the router, one line each. */
export function differences(direct: Seen, via: Seen): string[] {
  const out: string[] = [];
  for (const key of ['status', 'reason', 'continued', 'length', 'sha256'] as const) {
    if (direct[key] !== via[key]) out.push(`${key}: direct ${JSON.stringify(direct[key])}, through the router ${JSON.stringify(via[key])}`);
  }
  for (const key of ['headers', 'trailers', 'interim'] as const) {
    const only = (a: string[], b: string[]) => {
      const rest = [...b];
      return a.filter((x) => {
        const i = rest.indexOf(x);
        if (i < 0) return true;
        rest.splice(i, 1);
        return false;
      });
    };
    for (const x of only(direct[key], via[key])) out.push(`${key}: only direct:  ${x}`);
    for (const x of only(via[key], direct[key])) out.push(`${key}: only through the router: ${x}`);
  }
  return out;
}

export interface StreamTimes {
  /** From sending the request to its response head, ms. */
  headersMs: number;
  /** From sending the request to the first body byte, ms. */
  firstByteMs: number;
}

/** Times a streaming response (read to its end). */
export function timeStream(base: string, path: string): Promise<StreamTimes> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let headersMs = -1;
    let firstByteMs = -1;
    const req = request(new URL(path, base), { agent: false }, (res: IncomingMessage) => {
      headersMs = performance.now() - t0;
      res.on('data', () => {
        if (firstByteMs < 0) firstByteMs = performance.now() - t0;
      });
      res.on('end', () => resolve({ headersMs, firstByteMs }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
