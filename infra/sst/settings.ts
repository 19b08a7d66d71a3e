// The LambdaDispatch component's fixed numbers and the check of its arguments: what the types
// cannot say, every problem reported at once, each naming its argument.

import { checkObservability } from './observability.ts';
import { PER_FUNCTION_SETTINGS, RouteTable, type RoutesSpec } from '../../core/routing/route-table.ts';
import type { FunctionOptions, LambdaDispatchArgs } from './args.ts';

/** Ports the router listens on inside its task (LAMBDA_DISPATCH_IncomingRequestHTTPPort / _ControlChannelInsecureHTTP2Port). */
export const ROUTER_HTTP_PORT = 5001;
export const ROUTER_CONTROL_PORT = 5003;
export const HEALTH_PATH = '/_lambda_dispatch/health';

/** The router's own default for LAMBDA_DISPATCH_ShutdownGraceMs (core/config.ts), in seconds. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 20;
/** ECS refuses a longer stopTimeout for a Fargate container. */
export const FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120;
// A request that starts just as the target is deregistered still gets the whole grace from the
// load balancer, plus the time its last bytes take through it.
const DEREGISTRATION_MARGIN_SECONDS = 5;
// After the grace the router still closes connections, stops its dispatcher thread and exits;
// SIGKILL must not land in the middle of that.
const STOP_TIMEOUT_MARGIN_SECONDS = 10;
export const MAX_SHUTDOWN_GRACE_SECONDS = FARGATE_MAX_STOP_TIMEOUT_SECONDS - STOP_TIMEOUT_MARGIN_SECONDS;

/** What one drain grace sets: the router's setting, the target group's delay, the container's stop timeout. */
export function drainTimings(graceSeconds: number) {
  return {
    shutdownGraceMs: graceSeconds * 1000,
    deregistrationDelay: graceSeconds + DEREGISTRATION_MARGIN_SECONDS,
    stopTimeout: graceSeconds + STOP_TIMEOUT_MARGIN_SECONDS,
  };
}

/** Validates what the types cannot say; every problem is reported at once, each naming its argument. */
export function checkArgs(name: string, args: LambdaDispatchArgs, production: boolean) {
  const problems: string[] = [];
  const int = (label: string, v: number | undefined, dflt: number, min: number, max: number, why = '') => {
    const n = v ?? dflt;
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`${label} must be an integer from ${min} to ${max}${why}, got ${n}`);
    return n;
  };
  const fnOf = (label: string, f: FunctionOptions) => {
    if (!f.bundle && !/^[^.]+\.[A-Za-z_$][\w$]*$/.test(f.handler)) problems.push(`${label}.handler must look like "path/to/module.export", got "${f.handler}"`);
    return {
      runtime: f.runtime ?? 'nodejs24.x',
      architecture: f.architecture ?? 'arm64',
      timeout: int(`${label}.timeout`, f.timeout, 60, 1, 900),
      memory: int(`${label}.memory`, f.memory, 512, 128, 10_240),
    };
  };
  const main = fnOf('function', args.function);
  const functions = (args.functions ?? []).map((f, i) => ({ ...f, ...fnOf(`functions[${i}].function`, f.function) }));
  const routes = checkRoutes(args, functions, main.timeout, problems);
  if (args.workers) {
    const w = args.workers.scaling ?? {};
    const wMin = int('workers.scaling.min', w.min, 1, 0, 1000);
    const wMax = int('workers.scaling.max', w.max, 4, 1, 1000);
    if (wMin > wMax) problems.push(`workers.scaling.min (${wMin}) exceeds workers.scaling.max (${wMax})`);
    int('workers.scaling.cpuUtilization', w.cpuUtilization, 60, 1, 100);
    if (args.workers.maxConcurrent !== undefined) int('workers.maxConcurrent', args.workers.maxConcurrent, 10, 1, 1000);
    const fn = args.workers.function;
    const names = [...new Set(['main', ...functions.map((f) => f.name)])];
    if (fn !== undefined && !names.includes(fn)) problems.push(`workers.function must be one of ${names.map((n) => JSON.stringify(n)).join(', ')}, got ${JSON.stringify(fn)}`);
  }
  const scaling = args.router?.scaling ?? {};
  const defaultMin = production ? 2 : 1;
  const min = int('router.scaling.min', scaling.min, defaultMin, 0, 1000);
  const max = int('router.scaling.max', scaling.max, 10, 1, 1000);
  if (min > max) {
    const note = scaling.min === undefined ? (production ? ', the default in the production stage' : ', the default') : '';
    problems.push(`router.scaling.min (${min}${note}) exceeds router.scaling.max (${max})`);
  }
  const cpuUtilization = int('router.scaling.cpuUtilization', scaling.cpuUtilization, 50, 1, 100);
  const shutdownGraceSeconds = int(
    'router.shutdownGraceSeconds',
    args.router?.shutdownGraceSeconds,
    DEFAULT_SHUTDOWN_GRACE_SECONDS,
    0,
    MAX_SHUTDOWN_GRACE_SECONDS,
    ` (ECS's stop timeout follows it at +${STOP_TIMEOUT_MARGIN_SECONDS} s and Fargate allows at most ${FARGATE_MAX_STOP_TIMEOUT_SECONDS} s)`,
  );
  const extra = args.router?.settings ?? {};
  if ('LAMBDA_DISPATCH_ShutdownGraceMs' in extra) {
    problems.push('router.settings.LAMBDA_DISPATCH_ShutdownGraceMs cannot be set: use router.shutdownGraceSeconds, which the deregistration delay and the stop timeout follow');
  }
  // The router's spellings of true (core/settings/env.ts). Only a literal can be checked here; a
  // value computed at deploy time is the caller's to keep.
  const tls = extra.LAMBDA_DISPATCH_ControlTls;
  if (typeof tls === 'string' && !['true', '1', 'yes'].includes(tls.trim().toLowerCase())) {
    problems.push(`router.settings.LAMBDA_DISPATCH_ControlTls cannot turn off TLS on the control channel (the function's callbacks cross the VPC), got "${tls}"`);
  }
  const observability = checkObservability(args, extra, problems);
  if (problems.length > 0) throw new Error(`LambdaDispatch "${name}": ${problems.join('; ')}`);
  return {
    runtime: main.runtime,
    fnArchitecture: main.architecture,
    timeout: main.timeout,
    memory: main.memory,
    functions,
    routes,
    router: {
      cpu: args.router?.cpu ?? '0.5 vCPU',
      memory: args.router?.memory ?? '1 GB',
      architecture: args.router?.architecture ?? (args.router?.capacity === 'spot' ? 'x86_64' : 'arm64'),
      capacity: args.router?.capacity ?? 'fargate',
      scaling: { min, max, cpuUtilization },
      shutdownGraceSeconds,
    },
    observability,
  };
}

/** The name `function` has among several. */
export const MAIN_FUNCTION = 'main';

/**
 * With `functions`: the routes declaration the router gets (LAMBDA_DISPATCH_Routes) with the Lambda
 * names left for the deploy to fill in, checked now by the router's own rules. Without: undefined.
 */
function checkRoutes(
  args: LambdaDispatchArgs,
  functions: { name: string; timeout: number; settings?: Record<string, string | number | boolean> }[],
  mainTimeout: number,
  problems: string[],
): RoutesSpec | undefined {
  if (args.functions === undefined) {
    if (args.routes !== undefined || args.header !== undefined) problems.push('routes and header need functions (more than the one function)');
    return undefined;
  }
  const names = [MAIN_FUNCTION, ...functions.map((f) => f.name)];
  functions.forEach((f, i) => {
    if (f.name === MAIN_FUNCTION) problems.push(`functions[${i}].name cannot be "${MAIN_FUNCTION}": that is \`function\``);
    for (const key of Object.keys(f.settings ?? {})) {
      if (!(PER_FUNCTION_SETTINGS as readonly string[]).includes(key) || key === 'FunctionTimeout') {
        problems.push(`functions[${i}].settings.${key} is not a per-function setting (${PER_FUNCTION_SETTINGS.filter((k) => k !== 'FunctionTimeout').join(', ')}; the timeout is function.timeout)`);
      }
    }
  });
  const spec: RoutesSpec = {
    functions: names.map((name, i) => ({
      name,
      functionName: name,
      // The router's invoke timeout follows each function's own.
      settings: { ...(i === 0 ? {} : functions[i - 1]!.settings), FunctionTimeout: i === 0 ? mainTimeout : functions[i - 1]!.timeout },
    })),
    routes: args.routes ?? [],
    ...(args.header ? { header: args.header } : {}),
  };
  try {
    RouteTable.compile(spec, 'routes');
  } catch (err) {
    problems.push((err as Error).message);
  }
  return spec;
}
