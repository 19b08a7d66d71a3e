// Settings of the local Lambda, from code or from the environment (see localLambdaOptionsFromEnv),
// read with the same readers as the router's so that a variable both use means the same to both.

import { envReader, integer, milliseconds, option, parseValue, port, SettingError, text, type Checker } from '../../core/settings/env.ts';

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

const PORT = port({ allowZero: true });
// Lambda's own bounds for timeout and memory size.
const TIMEOUT_S = integer({ min: 1, max: 900 });
const MEMORY_MB = integer({ min: 128, max: 10_240 });

/**
 * Reads LAMBDA_DISPATCH_FunctionName, LOCAL_LAMBDA_PORT, LOCAL_LAMBDA_CONCURRENCY,
 * LOCAL_LAMBDA_TIMEOUT_S, LOCAL_LAMBDA_MEMORY_MB, LOCAL_LAMBDA_INIT_MS, LOCAL_LAMBDA_HANDLER.
 * A bad value throws a SettingError that names the variable.
 */
export function localLambdaOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  defaults: { handlerModule: string },
): LocalLambdaOptions {
  const read = envReader(env);
  return Object.freeze({
    port: read('LOCAL_LAMBDA_PORT', PORT, DEFAULT_PORT),
    functionName: functionNameOf(read('LAMBDA_DISPATCH_FunctionName', text)),
    handlerModule: read('LOCAL_LAMBDA_HANDLER', text, defaults.handlerModule),
    concurrency: read('LOCAL_LAMBDA_CONCURRENCY', integer({ min: 1, max: 10_000 }), 32),
    timeoutS: read('LOCAL_LAMBDA_TIMEOUT_S', TIMEOUT_S, 60),
    memoryMb: read('LOCAL_LAMBDA_MEMORY_MB', MEMORY_MB, 512),
    initMs: read('LOCAL_LAMBDA_INIT_MS', milliseconds({ whole: true, max: 10_000 }), 0),
  });
}

/** The router may be configured with an ARN; the local service is addressed by the bare name. */
export function functionNameOf(value: string | undefined): string {
  const v = parseValue('LAMBDA_DISPATCH_FunctionName', value, text);
  if (v === undefined) return DEFAULT_FUNCTION_NAME;
  const i = v.indexOf(':function:');
  return i >= 0 ? (v.slice(i + ':function:'.length).split(':')[0] ?? v) : v;
}

/** Checks options given in code, with the same bounds, naming the option. */
export function validateOptions(opts: LocalLambdaOptions): void {
  const check = (name: keyof LocalLambdaOptions, r: Checker<number>) => option(`LocalLambdaOptions.${name}`, opts[name], r);
  check('port', PORT);
  check('concurrency', integer({ min: 1 }));
  check('timeoutS', TIMEOUT_S);
  check('memoryMb', MEMORY_MB);
  check('initMs', milliseconds({ whole: true }));
  check('idleReapMs', milliseconds({ whole: true }));
  for (const name of ['functionName', 'handlerModule'] as const) {
    const v = opts[name];
    if (typeof v !== 'string' || v === '') throw new SettingError(`LocalLambdaOptions.${name}`, v, 'a non-empty string', `LocalLambdaOptions.${name} is required`);
  }
}
