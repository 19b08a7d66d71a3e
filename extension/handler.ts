// The Lambda side of lambda-dispatch (DESIGN §6): `createHandler(app)` returns the Lambda handler.
// Each invocation connects back to the router named in its payload and serves requests through
// the app until the router lets it go or the deadline comes.

import type { RequestListener } from 'node:http';
import { appTarget } from './app-target.ts';
import { Invocation } from './instance.ts';
import { parsePayload, resolveOptions, type ExtensionOptions, type LambdaHandler, type PortApp } from './types.ts';

export { closeLocalServers } from './app-target.ts';
export type {
  App,
  ExitReason,
  ExtensionOptions,
  InvocationResult,
  InvokePayload,
  LambdaContext,
  LambdaHandler,
  PortApp,
} from './types.ts';

/**
 * @param app a Node request listener (Express, Koa's `app.callback()`, a `(req, res)` function),
 *   served by one loopback http.Server per execution environment; or `{ port, host?, healthPath? }`
 *   for an app listening on its own, ready once `GET healthPath` (default `/health`) answers 200.
 */
export function createHandler(app: RequestListener | PortApp, options: ExtensionOptions = {}): LambdaHandler {
  const resolved = resolveOptions(options);
  const target = appTarget(app, resolved.healthIntervalMs);
  return async (event, context) => new Invocation(parsePayload(event), context, target, resolved).run();
}
