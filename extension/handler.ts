// The Lambda side of lambda-dispatch (docs/ARCHITECTURE.md, "The extension"): `createHandler(app)` returns the Lambda handler.
// An invocation from the router connects back to the router named in its payload and serves
// requests through the app until the router lets it go or the deadline comes. A plain Lambda HTTP
// event (Function URL, API Gateway v1/v2, ALB) is answered through the same app directly; any other
// event (SQS, SNS, S3, EventBridge…) is POSTed to the app at the pass-through path (events.ts).

import { appTarget } from './app/kinds.ts';
import { AppNotReadyError } from './app/readiness.ts';
import { appRegistry } from './app/registry.ts';
import type { AppTarget } from './app/target.ts';
import { serveHttpEvent } from './direct.ts';
import { eventRoute, passThroughEvent } from './events.ts';
import { Invocation } from './invocation.ts';
import { parsePayload, resolveOptions, type App, type DispatchHandler, type ExtensionOptions, type LambdaContext } from './types.ts';

export { closeLocalServers, stopAppProcesses } from './app/registry.ts';
export { fetchListener } from './app/fetch-app.ts';
export type {
  App,
  DispatchHandler,
  ExitReason,
  ExtensionOptions,
  FetchHandler,
  HttpEvent,
  HttpEventResult,
  InvocationResult,
  InvokePayload,
  LambdaContext,
  LambdaHandler,
  PortApp,
} from './types.ts';

/**
 * @param app a Node request listener (Express, Koa's `app.callback()`, Fastify's `routing`, a
 *   `(req, res)` function) or a fetch handler (`(request) => Response`, or an object with a `fetch`
 *   method such as a Hono app), served by one loopback http.Server per execution environment; or
 *   `{ port, host?, healthPath?, command? }` for an app listening on its own (started from
 *   `command` when given), ready once `GET healthPath` (default `/health`) answers 200 (see
 *   `ExtensionOptions.healthyStatus` and `.readinessProtocol`).
 */
export function createHandler(app: App, options: ExtensionOptions = {}): DispatchHandler {
  const resolved = resolveOptions(options);
  const target = appTarget(app, resolved, appRegistry());
  /** With async init and an app not ready at the end of init: the time by which it must be. */
  let readyBy: number | null = null;
  let initialized: Promise<DispatchHandler> | null = null;
  /** Invocations this environment has had (the first is its cold start). */
  let invocations = 0;

  const ready = async (hardStopMs: number): Promise<void> => {
    const budget = readyBy !== null ? Math.max(0, readyBy - Date.now()) : resolved.healthTimeoutMs;
    await target.ready(Math.min(budget, hardStopMs));
    readyBy = null;
  };

  const handler = (async (event: unknown, context: LambdaContext) => {
    const coldStart = invocations++ === 0;
    const route = eventRoute(event);
    if (route !== 'router') {
      const remaining = context.getRemainingTimeInMillis();
      await ready(Math.max(0, remaining - resolved.hardStopMarginMs));
      if (route === 'http') return serveHttpEvent(event, target, resolved.compression, resolved.removeBasePath);
      return passThroughEvent(event, context, target, { path: resolved.passThroughPath, log: resolved.log });
    }
    const invocationTarget: AppTarget = {
      description: target.description,
      ready,
      request: (method, path, headers) => target.request(method, path, headers),
      ...(target.upgrade !== undefined ? { upgrade: target.upgrade.bind(target) } : {}),
      onExit: (listener) => target.onExit(listener),
    };
    try {
      return await new Invocation(parsePayload(event), context, invocationTarget, resolved, coldStart).run();
    } finally {
      // Lambda may freeze the environment as soon as the handler returns.
      resolved.logger().flush();
    }
  }) as DispatchHandler;

  handler.init = () => {
    initialized ??= (async () => {
      const started = Date.now();
      try {
        await target.ready(resolved.initTimeoutMs);
      } catch (err) {
        const message = (err as Error).message;
        // Only an app that is slow may keep the first invocation waiting, never one that failed.
        const timedOut = err instanceof AppNotReadyError;
        if (!resolved.asyncInit || !timedOut) {
          throw new Error(
            `lambda-dispatch: init failed: ${message}${timedOut ? '; set LAMBDA_DISPATCH_ASYNC_INIT=true to let the first invocation wait for a slow app' : ''}`,
          );
        }
        readyBy = started + resolved.asyncInitTimeoutMs;
        resolved.log(
          `lambda-dispatch: the app is not ready after ${resolved.initTimeoutMs} ms of init; async init: the first invocation keeps waiting (up to ${resolved.asyncInitTimeoutMs} ms from the start)`,
        );
      }
      return handler;
    })();
    return initialized;
  };
  return handler;
}
