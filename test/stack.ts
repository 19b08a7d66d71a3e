// Boots the whole system for a test: the local Lambda running the demo function and the router,
// on ephemeral loopback ports, with the real LambdaClient between them.

import { request, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { loadRouterConfig } from '../core/config.ts';
import { startRouter, type Router } from '../ingress/router.ts';
import { createLogger } from '../ingress/telemetry/logger.ts';
import { startLocalLambda, type LocalLambda, type LocalLambdaOptions } from '../infra/local/lambda-service.ts';

export const DEMO_FUNCTION = fileURLToPath(new URL('../demo/function.ts', import.meta.url));

export interface Stack {
  router: Router;
  lambda: LocalLambda;
  logs: string[];
  /** The router's JSON log lines (access log, events, EMF), parsed, in order. */
  json: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startStack(
  opts: { routerEnv?: Record<string, string>; lambda?: Partial<LocalLambdaOptions>; bindHost?: string } = {},
): Promise<Stack> {
  const lambda = await startLocalLambda({
    functionName: 'lambda-dispatch-demo',
    handlerModule: DEMO_FUNCTION,
    concurrency: 32,
    timeoutS: 60,
    memoryMb: 512,
    initMs: 0,
    ...opts.lambda,
    // The extension's per-request lines would flood the test's output; a test that reads them
    // gives its own handler a logger (test/observability.test.ts).
    env: { LAMBDA_DISPATCH_AccessLogSample: '0', ...opts.lambda?.env },
  });
  // The dispatcher thread copies process.env when it starts: the SDK finds these there.
  process.env.AWS_ACCESS_KEY_ID = 'local';
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const config = loadRouterConfig({
    LAMBDA_DISPATCH_FunctionName: 'lambda-dispatch-demo',
    LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
    LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0',
    LAMBDA_DISPATCH_AdminPort: '0',
    // The production default: on a loaded 2-core machine an environment thread can stall past a
    // shorter interval's two missed pings and be cut off as dead in the middle of a stream.
    LAMBDA_DISPATCH_PingIntervalMs: '2000',
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    ...opts.routerEnv,
  });
  const logs: string[] = [];
  const json: Record<string, unknown>[] = [];
  const logger = createLogger(config.logLevel, { write: (line: string) => void json.push(JSON.parse(line) as Record<string, unknown>) });
  let router: Router;
  try {
    router = await startRouter({ config, bindHost: opts.bindHost ?? '127.0.0.1', log: (l) => logs.push(l), logger });
  } catch (err) {
    await lambda.close();
    throw err;
  }
  return {
    router,
    lambda,
    logs,
    json,
    close: async () => {
      await router.close(5000);
      await lambda.close();
      // What went wrong on the router's side, in the test's output (as `#` lines) for the next reader.
      for (const line of logs) if (NOTEWORTHY.test(line)) console.log(`router: ${line}`);
    },
  };
}

/** Router log lines worth seeing after a test: a channel or a response lost, not routine events. */
const NOTEWORTHY = /stopped answering pings|protocol error|framing|failed in the extension|not confirmed|crashed|not sent again/;

/** Polls until `check` holds or the time runs out; returns the last value it saw. */
export async function waitFor<T>(read: () => Promise<T> | T, check: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (check(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
}

/** One HTTP request, the whole body read. */
export function call(base: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
