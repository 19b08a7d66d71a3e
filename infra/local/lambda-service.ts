// The local stand-in for the Lambda service: the Invoke API over HTTP, as @aws-sdk/client-lambda
// speaks it (restJson1), in front of an EnvironmentPool. Point a LambdaClient at `url` with any
// credentials and region and it works unchanged.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { environmentPoolFor, functionArn } from './environment-pool.ts';
import type { InvokeOutcome } from './environment-pool.ts';
import {
  MAX_REQUEST_BYTES,
  invalidParameter,
  invalidRequestContent,
  requestTooLarge,
  resourceNotFound,
  serviceException,
  tooManyRequests,
  unknownOperation,
} from './errors.ts';
import type { ServiceError } from './errors.ts';
import type { LedgerSnapshot } from './ledger.ts';
import { openFrontDoor } from './front-door.ts';
import { validateOptions } from './options.ts';
import type { LocalLambdaOptions } from './options.ts';
import type { InvocationTask } from './protocol.ts';

export { localLambdaOptionsFromEnv } from './options.ts';
export type { LocalLambdaOptions } from './options.ts';

export interface LocalLambda {
  /** e.g. http://127.0.0.1:5051, to use as the LambdaClient endpoint. */
  url: string;
  port: number;
  /** `includeRunning`: also charge running invocations for their time so far (see EnvironmentPool.ledger). */
  ledger(opts?: { includeRunning?: boolean }): LedgerSnapshot;
  stats(): { busy: number; warm: number; environments: string[] };
  /** Fault injection: terminate that environment; its running invocation fails with Runtime.ExitError. */
  killEnvironment(envId: string): boolean;
  /** Stops the server and terminates every environment, leaving no handle open. */
  close(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;

export async function startLocalLambda(opts: LocalLambdaOptions): Promise<LocalLambda> {
  validateOptions(opts);
  const region = opts.region ?? 'us-east-1';
  const arnOf = (name: string) => functionArn(region, name);
  const pool = environmentPoolFor(opts);

  const server = createServer((req, res) => {
    const requestId = randomUUID();
    // A client that goes away mid-request must not surface as an unhandled 'error'.
    req.on('error', () => {});
    res.on('error', () => {});
    handle(req, res, requestId).catch((err: unknown) => sendServiceError(res, requestId, serviceException(String(err))));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = INVOKE_PATH.exec(url.pathname);
    if (req.method !== 'POST' || !match?.[1]) {
      req.resume();
      return sendServiceError(res, requestId, unknownOperation());
    }
    const ref = parseFunctionRef(match[1], url.searchParams.get('Qualifier'));
    if (!ref || ref.name !== opts.functionName || (ref.qualifier !== undefined && ref.qualifier !== '$LATEST')) {
      req.resume();
      const name = ref ? ref.name + (ref.qualifier ? `:${ref.qualifier}` : '') : match[1];
      return sendServiceError(res, requestId, resourceNotFound(arnOf(name)));
    }

    const invocationType = header(req, 'x-amz-invocation-type') ?? 'RequestResponse';
    if (invocationType !== 'RequestResponse' && invocationType !== 'Event' && invocationType !== 'DryRun') {
      req.resume();
      return sendServiceError(res, requestId, invalidParameter(`Unsupported invocation type: ${invocationType}`));
    }

    const body = await readBody(req);
    if (body === undefined) return sendServiceError(res, requestId, requestTooLarge());
    const payload = body.trim() === '' ? '{}' : body;
    try {
      JSON.parse(payload);
    } catch (err) {
      return sendServiceError(res, requestId, invalidRequestContent((err as Error).message));
    }

    if (invocationType === 'DryRun') return send(res, 204, { 'x-amzn-RequestId': requestId }, '');
    const task: InvocationTask = { requestId, payload, ...clientContextOf(req) };
    if (invocationType === 'Event') {
      pool.invokeAsync(task);
      return send(res, 202, { 'x-amzn-RequestId': requestId }, '');
    }
    const running = pool.tryInvoke(task);
    if (!running) return sendServiceError(res, requestId, tooManyRequests());
    // The invocation runs to its end even if the client has gone (as on Lambda); send() then no-ops.
    sendOutcome(res, requestId, await running);
  }

  const door = await openFrontDoor(server, pool, opts.port, opts.host);
  return {
    url: door.url,
    port: door.port,
    ledger: (o) => pool.ledger(o),
    stats: () => pool.stats(),
    killEnvironment: (envId) => pool.kill(envId),
    close: door.close,
  };
}

/** Accepts a name, `name:qualifier`, `account:function:name[:qualifier]` or a full function ARN. */
function parseFunctionRef(encoded: string, queryQualifier: string | null): { name: string; qualifier: string | undefined } | undefined {
  let raw: string;
  try {
    raw = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  const i = raw.indexOf(':function:');
  const [name, qualifier] = (i >= 0 ? raw.slice(i + ':function:'.length) : raw).split(':');
  if (!name) return undefined;
  return { name, qualifier: qualifier ?? queryQualifier ?? undefined };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function clientContextOf(req: IncomingMessage): { clientContext?: unknown } {
  const raw = header(req, 'x-amz-client-context');
  if (!raw) return {};
  try {
    return { clientContext: JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as unknown };
  } catch {
    return {};
  }
}

/** The body as text, or undefined when it is over Lambda's request limit. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Keep reading past the limit so the 413 is answered on a connection still in sync.
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
  }
  return size > MAX_REQUEST_BYTES ? undefined : Buffer.concat(chunks).toString('utf8');
}

function sendOutcome(res: ServerResponse, requestId: string, outcome: InvokeOutcome): void {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-Amz-Executed-Version': '$LATEST',
    'x-amzn-RequestId': requestId,
  };
  if (outcome.ok) return send(res, 200, headers, outcome.body);
  send(res, 200, { ...headers, 'X-Amz-Function-Error': 'Unhandled' }, JSON.stringify(outcome.error));
}

function sendServiceError(res: ServerResponse, requestId: string, error: ServiceError): void {
  send(
    res,
    error.status,
    { 'Content-Type': 'application/json', 'x-amzn-ErrorType': error.type, 'x-amzn-RequestId': requestId, ...error.headers },
    JSON.stringify(error.body),
  );
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.destroyed || res.headersSent) return;
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'Content-Length': String(bytes.length) });
  res.end(bytes);
}
