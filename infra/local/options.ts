// Settings of the local Lambda, from code or from the environment (see localLambdaOptionsFromEnv).

export interface LocalLambdaOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (ephemeral); the CLI uses LOCAL_LAMBDA_PORT (5051). */
  port?: number;
  /** The only function served; any other name answers 404 ResourceNotFoundException. */
  functionName: string;
  /** Absolute path or file: URL of an ESM (.js/.mjs) or TypeScript module exporting the handler. */
  handlerModule: string;
  /** Default 'handler'. */
  handlerExport?: string;
  /** Environments allowed at once; one more invocation answers 429 TooManyRequestsException. */
  concurrency: number;
  /** Function timeout: the environment is terminated and the invocation answers Sandbox.Timedout. */
  timeoutS: number;
  /** Billing and context.memoryLimitInMB; also the environment's heap limit. */
  memoryMb: number;
  /** Extra cold-start delay after the handler module has loaded. */
  initMs: number;
  /** A warm environment idle this long is reaped. Default 60_000. */
  idleReapMs?: number;
  /** Extra environment variables for the handler, on top of process.env. */
  env?: Record<string, string>;
  /** Default 'us-east-1'. */
  region?: string;
  /** Receives a line per cold start and environment end; silent by default. */
  log?: (line: string) => void;
}

export const DEFAULT_FUNCTION_NAME = 'lambda-dispatch-demo';
export const DEFAULT_PORT = 5051;

/**
 * Reads LAMBDA_DISPATCH_FunctionName, LOCAL_LAMBDA_PORT, LOCAL_LAMBDA_CONCURRENCY,
 * LOCAL_LAMBDA_TIMEOUT_S, LOCAL_LAMBDA_MEMORY_MB, LOCAL_LAMBDA_INIT_MS, LOCAL_LAMBDA_HANDLER.
 * A bad value throws an Error that names the variable.
 */
export function localLambdaOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  defaults: { handlerModule: string },
): LocalLambdaOptions {
  return {
    port: int(env, 'LOCAL_LAMBDA_PORT', DEFAULT_PORT, 0, 65_535),
    functionName: functionNameOf(env['LAMBDA_DISPATCH_FunctionName']),
    handlerModule: nonEmpty(env['LOCAL_LAMBDA_HANDLER']) ?? defaults.handlerModule,
    concurrency: int(env, 'LOCAL_LAMBDA_CONCURRENCY', 32, 1, 10_000),
    // Lambda's own bounds for timeout and memory size.
    timeoutS: int(env, 'LOCAL_LAMBDA_TIMEOUT_S', 60, 1, 900),
    memoryMb: int(env, 'LOCAL_LAMBDA_MEMORY_MB', 512, 128, 10_240),
    initMs: int(env, 'LOCAL_LAMBDA_INIT_MS', 0, 0, 10_000),
  };
}

/** The router may be configured with an ARN; the local service is addressed by the bare name. */
export function functionNameOf(value: string | undefined): string {
  const v = nonEmpty(value);
  if (v === undefined) return DEFAULT_FUNCTION_NAME;
  const i = v.indexOf(':function:');
  return i >= 0 ? (v.slice(i + ':function:'.length).split(':')[0] ?? v) : v;
}

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(env[name])}`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** Checks options given in code, with the same bounds, naming the option. */
export function validateOptions(opts: LocalLambdaOptions): void {
  const check = (name: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`LocalLambdaOptions.${name} must be an integer between ${min} and ${max}, got ${v}`);
  };
  check('port', opts.port, 0, 65_535);
  check('concurrency', opts.concurrency, 1);
  check('timeoutS', opts.timeoutS, 1, 900);
  check('memoryMb', opts.memoryMb, 128, 10_240);
  check('initMs', opts.initMs, 0);
  check('idleReapMs', opts.idleReapMs, 0);
  if (!opts.functionName) throw new Error('LocalLambdaOptions.functionName is required');
  if (!opts.handlerModule) throw new Error('LocalLambdaOptions.handlerModule is required');
}
