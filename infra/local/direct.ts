// The local Lambda's direct mode (docs/ARCHITECTURE.md, "The local Lambda"): an HTTP server that
// behaves like a Function URL in front of Lambda's built-in dispatch. Each HTTP request becomes
// one invocation (a payload format 2.0 event, body buffered, base64 when binary) on an idle warm
// environment, or on a new one with its cold start when none is idle — the "direct Lambda" the
// bench compares the router against.
// It has its own environments and billing ledger, apart from any Invoke API instance.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { environmentPoolFor } from './environment-pool.ts';
import type { PoolStats } from './environment-pool.ts';
import { MAX_REQUEST_BYTES } from './errors.ts';
import type { LedgerSnapshot } from './ledger.ts';
import { openFrontDoor } from './front-door.ts';
import { validateOptions } from './options.ts';
import type { LocalLambdaOptions } from './options.ts';
import { isTextual } from './url-function.ts';
import type { UrlEvent, UrlResult } from './url-function.ts';

export interface DirectLambda {
  /** The function URL, e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  ledger(): LedgerSnapshot;
  stats(): PoolStats;
  close(): Promise<void>;
}


export async function startDirectLambda(opts: LocalLambdaOptions): Promise<DirectLambda> {
  validateOptions(opts);
  const pool = environmentPoolFor(opts);

  const server = createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    handle(req, res).catch((err: unknown) => {
      opts.log?.(`direct: ${String(err)}`);
      message(res, 500, 'Internal Server Error');
    });
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) return message(res, 413, 'Request Entity Too Large');
    const requestId = randomUUID();
    const event = toUrlEvent(req, body, requestId, Date.now());
    const running = pool.tryInvoke({ requestId, payload: JSON.stringify(event) });
    if (!running) return message(res, 429, 'Rate Exceeded.');
    const outcome = await running;
    if (!outcome.ok) return message(res, 502, 'Internal Server Error');
    writeUrlResult(res, parseResult(outcome.body));
  }

  const door = await openFrontDoor(server, pool, opts.port, opts.host);
  return {
    url: door.url,
    port: door.port,
    ledger: () => pool.ledger(),
    stats: () => pool.stats(),
    close: door.close,
  };
}

/** The Function URL event for one HTTP request (payload format 2.0). */
export function toUrlEvent(req: IncomingMessage, body: Buffer, requestId: string, nowMs: number): UrlEvent {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q >= 0 ? target.slice(0, q) : target;
  const rawQueryString = q >= 0 ? target.slice(q + 1) : '';
  // Repeated headers are joined with commas, as Function URLs do; cookies travel apart.
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    if (name === 'cookie') (cookies ??= []).push(...value.split(/;\s*/).filter((c) => c !== ''));
    else headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const text = body.length === 0 || isTextual(headers['content-type']);
  const host = headers.host ?? 'localhost';
  const method = req.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: new Date(nowMs).toISOString(),
      timeEpoch: nowMs,
    },
    ...(body.length > 0 ? { body: body.toString(text ? 'utf8' : 'base64') } : {}),
    isBase64Encoded: !text,
  };
}

/** A handler's return value as a Function URL reads it: a result object, or any JSON as a 200 body. */
export function parseResult(json: string): UrlResult {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    value = json;
  }
  if (typeof value === 'object' && value !== null && typeof (value as { statusCode?: unknown }).statusCode === 'number') {
    const r = value as Partial<UrlResult> & { statusCode: number };
    return {
      statusCode: r.statusCode,
      headers: r.headers ?? {},
      ...(r.cookies ? { cookies: r.cookies } : {}),
      body: typeof r.body === 'string' ? r.body : '',
      isBase64Encoded: r.isBase64Encoded === true,
    };
  }
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value), isBase64Encoded: false };
}

export function writeUrlResult(res: ServerResponse, r: UrlResult): void {
  if (res.destroyed || res.headersSent) return;
  const body = Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8');
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    const name = k.toLowerCase();
    if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection') headers[name] = v;
  }
  if (r.cookies && r.cookies.length > 0) headers['set-cookie'] = r.cookies;
  headers['content-length'] = String(body.length);
  res.writeHead(r.statusCode, headers);
  res.end(body);
}

function message(res: ServerResponse, status: number, text: string): void {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify({ Message: text });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
  }
  return size > MAX_REQUEST_BYTES ? undefined : Buffer.concat(chunks);
}
