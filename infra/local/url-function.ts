// A plain Lambda HTTP handler for a Node request listener: each Function URL (payload format 2.0)
// event is served through the app over loopback HTTP inside the execution environment, buffered,
// and returned as `{ statusCode, headers, cookies, body, isBase64Encoded }`. This is how a web app
// runs on Lambda without lambda-dispatch — the local Lambda's direct mode (direct.ts) runs it as
// the bench's "direct Lambda" baseline.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A Function URL / API Gateway HTTP API event, payload format 2.0 (the fields used here). */
export interface UrlEvent {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: string;
    stage: string;
    time: string;
    timeEpoch: number;
  };
  body?: string;
  isBase64Encoded: boolean;
}

export interface UrlResult {
  statusCode: number;
  headers: Record<string, string>;
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/** Bodies of these types go back as text; everything else (and anything content-encoded) as base64. */
export function isTextual(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const t = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    t.startsWith('text/') ||
    t === 'application/json' ||
    t.endsWith('+json') ||
    t === 'application/javascript' ||
    t === 'application/xml' ||
    t.endsWith('+xml') ||
    t === 'application/x-www-form-urlencoded'
  );
}

export function urlEventHandler(app: http.RequestListener): (event: UrlEvent) => Promise<UrlResult> {
  let target: Promise<{ port: number; agent: http.Agent }> | undefined;
  const start = () =>
    new Promise<{ port: number; agent: http.Agent }>((resolve, reject) => {
      const server = http.createServer(app);
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      server.requestTimeout = 0;
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        server.unref();
        resolve({ port: (server.address() as AddressInfo).port, agent: new http.Agent({ keepAlive: true, maxSockets: Infinity }) });
      });
    });

  return async (event) => {
    target ??= start();
    const { port, agent } = await target;
    const headers: Record<string, string> = { ...event.headers };
    if (event.cookies && event.cookies.length > 0) headers.cookie = event.cookies.join('; ');
    const body = event.body === undefined ? undefined : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
    if (body !== undefined) headers['content-length'] = String(body.length);
    else delete headers['content-length'];
    delete headers['transfer-encoding'];
    const path = event.rawPath + (event.rawQueryString ? `?${event.rawQueryString}` : '');

    return new Promise<UrlResult>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: event.requestContext.http.method, path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const out: Record<string, string> = {};
          let cookies: string[] | undefined;
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined || HOP_BY_HOP.has(name)) continue;
            if (name === 'set-cookie') cookies = Array.isArray(value) ? value : [value];
            else out[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          const data = Buffer.concat(chunks);
          const text = isTextual(out['content-type']) && out['content-encoding'] === undefined;
          resolve({
            statusCode: res.statusCode ?? 502,
            headers: out,
            ...(cookies ? { cookies } : {}),
            body: data.toString(text ? 'utf8' : 'base64'),
            isBase64Encoded: !text,
          });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}
