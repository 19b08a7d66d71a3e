// What every scenario gets from bench/run.ts, and the local Lambda settings they share.

import { startLocalLambda, type LocalLambda, type LocalLambdaOptions } from '../../infra/local/lambda-service.ts';
import type { BuiltFunctions } from '../functions.ts';
import type { RouterProcess } from '../procs.ts';

export interface Ctx {
  quick: boolean;
  /** Rounds per comparison (targets alternate their order each round). */
  repeats: number;
  functions: BuiltFunctions;
  log: (line: string) => void;
}

export const FUNCTION_NAME = 'lambda-dispatch-demo';
/** Long enough that no instance reaches its deadline during a scenario. */
export const FUNCTION_TIMEOUT_S = 300;

export function routerLambda(ctx: Ctx, o: Partial<LocalLambdaOptions> = {}): Promise<LocalLambda> {
  return startLocalLambda({
    functionName: FUNCTION_NAME,
    handlerModule: ctx.functions.router,
    concurrency: 64,
    timeoutS: FUNCTION_TIMEOUT_S,
    memoryMb: 512,
    initMs: 0,
    ...o,
  });
}

export const ROUTER_ENV = { LAMBDA_DISPATCH_FunctionName: FUNCTION_NAME, LAMBDA_DISPATCH_FunctionTimeout: String(FUNCTION_TIMEOUT_S) };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls the router until `check` holds or `timeoutMs` passes. */
export async function waitRouter(router: RouterProcess, check: (s: Awaited<ReturnType<RouterProcess['status']>>) => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if (check(await router.status())) return true;
    } catch {
      // not answering yet
    }
    await sleep(100);
  }
  return false;
}

/** Round r's order of targets: rotated each round so that none always runs first (or last). */
export function rotation<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
