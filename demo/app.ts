// The demo app: plain node:http, no framework. Served through the router (demo/function.ts), or
// directly as the "no router" baseline (demo/serve.ts). Bodies are streamed, never buffered whole.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';

/** The most CPU one /cpu request may burn: enough to saturate an environment, not to freeze it. */
const MAX_CPU_MS = 1000;
const MAX_DELAY_MS = 900_000;
const CHUNK = 64 * 1024;
/** Printable filler for /bytes, so that `type=text/plain` bodies are readable text. */
const FILLER = Buffer.alloc(CHUNK, 'abcdefghijklmnopqrstuvwxyz0123456789\n', 'latin1');

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A non-negative integer query parameter; `undefined` when absent, `null` when malformed. */
function intParam(q: URLSearchParams, name: string, max: number): number | undefined | null {
  const raw = q.get(name);
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw)) return null;
  const v = Number(raw);
  return Number.isSafeInteger(v) && v <= max ? v : null;
}

/** Waits `ms`, unless the client goes away first. */
function after(req: IncomingMessage, res: ServerResponse, ms: number, then: () => void): void {
  if (ms === 0) return then();
  const timer = setTimeout(then, ms);
  res.once('close', () => clearTimeout(timer));
  req.resume();
}

function echo(req: IncomingMessage, res: ServerResponse): void {
  const headers: Record<string, string> = { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' };
  const length = req.headers['content-length'];
  if (length !== undefined) headers['content-length'] = length;
  res.writeHead(200, headers);
  pipeline(req, res, () => {});
}

function bytes(res: ServerResponse, n: number, type: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': n });
  let left = n;
  const pump = (): void => {
    while (left > 0) {
      const size = Math.min(CHUNK, left);
      left -= size;
      if (!res.write(size === CHUNK ? FILLER : FILLER.subarray(0, size))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.once('close', () => res.off('drain', pump));
  pump();
}

export const demoApp: RequestListener = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://demo.invalid');
  const q = url.searchParams;
  const method = req.method ?? 'GET';
  const isGet = method === 'GET' || method === 'HEAD';
  switch (url.pathname) {
    case '/ping':
      if (isGet) return text(res, 200, 'pong');
      break;
    case '/health':
      if (isGet) return text(res, 200, 'ok');
      break;
    case '/echo':
      if (method === 'POST') return echo(req, res);
      break;
    case '/delay': {
      if (!isGet) break;
      const ms = intParam(q, 'ms', MAX_DELAY_MS);
      if (ms === null || ms === undefined) return text(res, 400, `ms must be an integer in 0..${MAX_DELAY_MS}\n`);
      return after(req, res, ms, () => text(res, 200, `delayed ${ms}`));
    }
    case '/cpu': {
      // A CPU-heavy route: the event loop is busy for `ms` per request, as a template render or a
      // JSON transform would keep it. What the router's concurrency learning must narrow for.
      if (!isGet) break;
      const ms = intParam(q, 'ms', MAX_CPU_MS);
      if (ms === null || ms === undefined) return text(res, 400, `ms must be an integer in 0..${MAX_CPU_MS}\n`);
      const until = performance.now() + ms;
      while (performance.now() < until);
      return text(res, 200, `burned ${ms} ms`);
    }
    case '/bytes': {
      if (!isGet) break;
      const n = intParam(q, 'n', Number.MAX_SAFE_INTEGER);
      if (n === null || n === undefined) return text(res, 400, 'n must be a non-negative integer\n');
      return bytes(res, n, q.get('type') || 'application/octet-stream');
    }
    case '/headers':
      if (isGet) return json(res, 200, req.headers);
      break;
    case '/status': {
      if (!isGet) break;
      const code = intParam(q, 'code', 599);
      if (code === null || code === undefined || code < 200) return text(res, 400, 'code must be an integer in 200..599\n');
      if (code === 204 || code === 304) {
        res.writeHead(code).end();
        return;
      }
      return text(res, code, `status ${code}`);
    }
    case '/cookies':
      if (!isGet) break;
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      return text(res, 200, 'two cookies');
    case '/whoami': {
      if (!isGet) break;
      const ms = intParam(q, 'ms', MAX_DELAY_MS);
      if (ms === null) return text(res, 400, `ms must be an integer in 0..${MAX_DELAY_MS}\n`);
      return after(req, res, ms ?? 0, () =>
        json(res, 200, { env: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local', pid: process.pid, time: new Date().toISOString() }),
      );
    }
  }
  req.resume();
  text(res, 404, 'not found\n');
};
