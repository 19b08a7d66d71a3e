// The package's `lambda-dispatch/router` entry: the router started in code. It is the same router
// the container runs; the only difference from ingress/router.ts is where the dispatcher thread's
// module is. In the package this file is bundled into dist/router/index.js, next to the compiled
// dispatcher thread (dispatcher-thread.js); from the sources the default (tsx) applies.

import { loadRouterConfig, type RouterConfig } from '../../core/config.ts';
import { serveRouter as serveFromEnv } from '../../ingress/serve.ts';
import { startRouter as start, type Router, type RouterOptions } from '../../ingress/router.ts';

export type { RouterConfig } from '../../core/config.ts';
export type { DrainResult, Router, RouterOptions, RouterStatus } from '../../ingress/router.ts';
export { drainOnSignals } from '../../ingress/serve.ts';

/** The compiled thread beside this module once bundled; undefined from the sources. */
function threadFile(): URL | undefined {
  return import.meta.url.endsWith('.ts') ? undefined : new URL('./dispatcher-thread.js', import.meta.url);
}

/**
 * The router's settings: the `LAMBDA_DISPATCH_*` variables (README: Configuration) of `env`, by
 * default the process's. A bad value throws an error naming the variable.
 */
export function routerConfig(env: Record<string, string | undefined> = process.env): RouterConfig {
  return loadRouterConfig(env);
}

/**
 * Starts a router in this process: the client port, the admin listener and the dispatcher thread.
 * `config` defaults to routerConfig(process.env). Stop it with `router.close(graceMs)`.
 */
export function startRouter(o: Partial<RouterOptions> = {}): Promise<Router> {
  const thread = threadFile();
  return start({ ...o, config: o.config ?? routerConfig(), ...(thread && !o.threadFile ? { threadFile: thread } : {}) });
}

/**
 * The router as the container runs it: settings from the environment, the callback host found
 * (ECS task metadata on ECS), and a drain on SIGTERM/SIGINT that ends the process.
 */
export function serveRouter(o: { defaultBindHost?: string } = {}): Promise<void> {
  const thread = threadFile();
  return serveFromEnv({ defaultBindHost: o.defaultBindHost ?? '0.0.0.0', ...(thread ? { threadFile: thread } : {}) });
}
