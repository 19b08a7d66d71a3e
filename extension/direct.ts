// Plain Lambda HTTP events served through the same app, so that the function still answers when it
// is invoked without the router: Function URL and API Gateway HTTP API (payload 2.0), API Gateway
// REST API (payload 1.0) and ALB (single- or multi-value headers). Binary bodies travel base64 both
// ways; the response uses the form of the event (cookies for 2.0, multi-value headers when the
// event had them). `x-forwarded-for`, `-proto` and `-host` are set from the event when absent, the
// way a load balancer sets them. These events are buffered by Lambda anyway (6 MB, 1 MB for ALB),
// so the response is collected whole here.

import { endToEndHeaders } from '../core/http-headers.ts';
import { appHeaders } from './app-headers.ts';
import { removeBasePath } from './base-path.ts';
import type { AppResponse, AppTarget } from './app/target.ts';
import { gzipHeaders, gzipStream, isTextual, shouldCompress } from './compression.ts';
import type { HttpEventResult } from './types.ts';

type Kind = 'v2' | 'v1' | 'alb';

interface Parsed {
  kind: Kind;
  method: string;
  target: string;
  headers: string[];
  body: Buffer | null;
  /** The response should carry multi-value headers (v1 always gets both; ALB only when asked). */
  multiValue: boolean;
}

type Dict<T> = Record<string, T | undefined> | null | undefined;

function obj(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** The kind of HTTP event, or null when `event` is not one (e.g. a router invoke payload). */
export function httpEventKind(event: unknown): Kind | null {
  const e = obj(event);
  if (e === null) return null;
  const ctx = obj(e.requestContext);
  if (e.version === '2.0' && ctx !== null && obj(ctx.http) !== null) return 'v2';
  if (typeof e.httpMethod === 'string') return ctx !== null && obj(ctx.elb) !== null ? 'alb' : 'v1';
  return null;
}

function encodeQuery(single: Dict<string>, multi: Dict<string[]>, encode: boolean): string {
  const enc = encode ? encodeURIComponent : (s: string) => s;
  const parts: string[] = [];
  if (multi) {
    for (const [k, vs] of Object.entries(multi)) for (const v of vs ?? []) parts.push(`${enc(k)}=${enc(v)}`);
  } else if (single) {
    for (const [k, v] of Object.entries(single)) if (v !== undefined) parts.push(`${enc(k)}=${enc(v)}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

function flatHeaders(single: Dict<string>, multi: Dict<string[]>): string[] {
  const out: string[] = [];
  if (multi) {
    for (const [k, vs] of Object.entries(multi)) for (const v of vs ?? []) out.push(k.toLowerCase(), String(v));
  }
  if (single) {
    for (const [k, v] of Object.entries(single)) {
      const name = k.toLowerCase();
      if (v === undefined || (multi && Object.keys(multi).some((m) => m.toLowerCase() === name))) continue;
      out.push(name, String(v));
    }
  }
  return out;
}

function has(headers: readonly string[], name: string): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return true;
  return false;
}

function firstOf(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/** `basePath`: taken off the path of API Gateway events (payload 2.0 and 1.0), see base-path.ts. */
export function parseHttpEvent(event: unknown, basePath?: string): Parsed {
  const kind = httpEventKind(event);
  if (kind === null) throw new TypeError('lambda-dispatch: not an HTTP event');
  const e = event as Record<string, unknown>;
  const ctx = obj(e.requestContext) ?? {};
  const rawBody = typeof e.body === 'string' ? e.body : null;
  const body = rawBody === null ? null : Buffer.from(rawBody, e.isBase64Encoded === true ? 'base64' : 'utf8');
  let method: string;
  let target: string;
  let headers: string[];
  let sourceIp: string | undefined;
  let multiValue = false;
  if (kind === 'v2') {
    const http = obj(ctx.http) ?? {};
    method = String(http.method ?? 'GET').toUpperCase();
    const path = typeof e.rawPath === 'string' ? e.rawPath : String(http.path ?? '/');
    const qs = typeof e.rawQueryString === 'string' && e.rawQueryString !== '' ? `?${e.rawQueryString}` : '';
    target = removeBasePath(path, basePath) + qs;
    headers = flatHeaders(e.headers as Dict<string>, null);
    if (Array.isArray(e.cookies) && e.cookies.length > 0 && !has(headers, 'cookie')) headers.push('cookie', e.cookies.join('; '));
    sourceIp = typeof http.sourceIp === 'string' ? http.sourceIp : undefined;
  } else {
    method = String(e.httpMethod).toUpperCase();
    const path = typeof e.path === 'string' && e.path !== '' ? e.path : '/';
    const multiQuery = e.multiValueQueryStringParameters as Dict<string[]>;
    const single = e.queryStringParameters as Dict<string>;
    // API Gateway hands decoded parameters; ALB hands them exactly as the client sent them.
    target = (kind === 'v1' ? removeBasePath(path, basePath) : path) + encodeQuery(single, multiQuery, kind === 'v1');
    const multi = e.multiValueHeaders as Dict<string[]>;
    headers = flatHeaders(e.headers as Dict<string>, multi);
    multiValue = kind === 'v1' || (multi !== null && multi !== undefined);
    const identity = obj(ctx.identity);
    sourceIp = identity !== null && typeof identity.sourceIp === 'string' ? identity.sourceIp : undefined;
  }
  if (!has(headers, 'x-forwarded-for') && sourceIp !== undefined) headers.push('x-forwarded-for', sourceIp);
  if (!has(headers, 'x-forwarded-proto')) headers.push('x-forwarded-proto', 'https');
  const host = firstOf(headers, 'host') ?? (typeof ctx.domainName === 'string' ? ctx.domainName : undefined);
  if (host !== undefined) {
    if (!has(headers, 'host')) headers.push('host', host);
    if (!has(headers, 'x-forwarded-host')) headers.push('x-forwarded-host', host);
  }
  return { kind, method, target, headers, body, multiValue };
}

function collect(res: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/** Answers one HTTP event through the app. App failures become a 502, like a load balancer's. */
export async function serveHttpEvent(event: unknown, target: AppTarget, compression: boolean, basePath?: string): Promise<HttpEventResult> {
  const p = parseHttpEvent(event, basePath);
  let status: number;
  let headers: string[];
  let body: Buffer;
  try {
    const res = await new Promise<AppResponse>((resolve, reject) => {
      const req = target.request(p.method, p.target, appHeaders(p.headers, true, p.body));
      req.on('response', resolve);
      req.on('error', reject);
      req.end(p.body ?? undefined);
    });
    status = res.statusCode ?? 502;
    headers = endToEndHeaders(res.rawHeaders);
    if (compression && shouldCompress(p.method, p.headers, status, headers)) {
      headers = gzipHeaders(headers);
      body = await collect(gzipStream(res));
    } else {
      body = await collect(res);
    }
  } catch (err) {
    console.error(`lambda-dispatch: ${p.method} ${p.target}: the app could not be reached: ${(err as Error).message}`);
    status = 502;
    headers = ['content-type', 'text/plain; charset=utf-8'];
    body = Buffer.from('bad gateway\n');
  }
  return format(p, status, headers, body);
}

function format(p: Parsed, status: number, headers: string[], body: Buffer): HttpEventResult {
  const encoding = firstOf(headers, 'content-encoding');
  const textual = (encoding === undefined || encoding === 'identity') && (body.length === 0 || isTextual(firstOf(headers, 'content-type')));
  const out: HttpEventResult = {
    statusCode: status,
    body: textual ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !textual,
  };
  // A body that is not valid UTF-8 despite a textual type would be mangled: send it base64 too.
  if (textual && !Buffer.from(out.body, 'utf8').equals(body)) {
    out.body = body.toString('base64');
    out.isBase64Encoded = true;
  }
  if (p.kind === 'alb') out.statusDescription = `${status} ${STATUS_TEXT[status] ?? ''}`.trim();
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  const cookies: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (name === 'set-cookie' && p.kind === 'v2') {
      cookies.push(value);
      continue;
    }
    (multi[name] ??= []).push(value);
    // Single-value form: repeats joined (set-cookie cannot be joined: the last one is kept there).
    single[name] = single[name] === undefined || name === 'set-cookie' ? value : `${single[name]}, ${value}`;
  }
  if (p.kind === 'v2') {
    out.headers = single;
    if (cookies.length > 0) out.cookies = cookies;
  } else if (p.multiValue) {
    out.multiValueHeaders = multi;
  } else {
    out.headers = single;
    const setCookies = multi['set-cookie']?.length ?? 0;
    if (setCookies > 1) warnCookiesDropped(p.kind, setCookies);
  }
  return out;
}

let cookiesWarned = false;

/**
 * An ALB target group without multi-value headers (or a v1 event without them) takes one value per
 * header: of several `set-cookie`s only the last reaches the client (ALB's own rule). Said once
 * per execution environment, naming the fix.
 */
function warnCookiesDropped(kind: Kind, count: number): void {
  if (cookiesWarned) return;
  cookiesWarned = true;
  console.warn(
    `lambda-dispatch: the app set ${count} cookies but this ${kind === 'alb' ? 'ALB' : 'API Gateway'} event has no multi-value headers, ` +
      'so only the last set-cookie is returned (said once per environment). Turn on multi-value headers for the target group (lambda.multi_value_headers.enabled).',
  );
}

/** For tests: the next dropped cookies are warned about again. */
export function resetCookieWarning(): void {
  cookiesWarned = false;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 301: 'Moved Permanently', 302: 'Found',
  303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request',
  401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Payload Too Large', 418: "I'm a teapot", 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};
