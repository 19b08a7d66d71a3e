// Router settings from the environment. Names keep the original system's `LAMBDA_DISPATCH_*`
// spelling so that existing deployments carry over; a bad value fails at start naming the variable.

export type ScalingAlgorithm = 'simple' | 'ewma';

export interface RouterConfig {
  functionName: string;
  /** WebSocket channels each instance opens; extra ones beyond maxConcurrent are spares. */
  channelCount: number;
  /** Requests one instance serves at once. */
  maxConcurrentCount: number;
  instanceCountMultiplier: number;
  incomingPort: number;
  controlPort: number;
  /** Host the Lambda connects back to (configuredCallbackHost; the router process may find a better one). */
  callbackHost: string;
  scalingAlgorithm: ScalingAlgorithm;
  /** Longest a request may wait in the queue for a channel (504 after). */
  incomingRequestTimeoutMs: number;
  /** Queue length bound (503 with Retry-After beyond it). */
  maxPendingRequests: number;
  minInstances: number;
  maxInstances: number;
  /** The function's configured timeout; the invoke's client timeout is set above it. */
  functionTimeoutMs: number;
  /** Liveness: a channel that has not answered a ping for two intervals is dead. */
  pingIntervalMs: number;
  /** Bytes in flight per request and direction before the producer pauses its source. */
  windowBytes: number;
  /** Size of each SharedArrayBuffer ring's data area. */
  ringBytes: number;
  maxHeaderBytes: number;
  scaleOutIntervalMs: number;
  scaleInIntervalMs: number;
  /** An instance that asked to leave keeps serving at most this long while its replacement starts. */
  replacementWaitMs: number;
  /** Invoke the function once with initOnly at start so an environment is initialised before it is needed. */
  prewarmOnStart: boolean;
  /** Shared secret of container workers (permanent capacity); unset: worker mode off. */
  workerSecret: string | undefined;
  /** Lambda endpoint override (the local Lambda); unset means the SDK's default resolution. */
  lambdaEndpoint: string | undefined;
  region: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return v;
}

function num(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new ConfigError(`${name} must be a number between ${min} and ${max}, got "${raw}"`);
  return v;
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, dflt: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const v = raw.trim().toLowerCase() as T;
  if (!allowed.includes(v)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return v;
}

export type CallbackHostSource = 'RouterCallbackHost' | 'EnvVarForCallbackIp' | 'ecs-metadata' | 'loopback';

/**
 * The address the function must call back, when the settings name it: LAMBDA_DISPATCH_RouterCallbackHost,
 * else the variable named by LAMBDA_DISPATCH_EnvVarForCallbackIp (K8S_POD_IP by default). Otherwise
 * the router process finds it (ingress/callback-host.ts: ECS task metadata, else loopback).
 */
export function configuredCallbackHost(env: Env): { host: string; source: CallbackHostSource } | undefined {
  const explicit = env.LAMBDA_DISPATCH_RouterCallbackHost?.trim();
  if (explicit) return { host: explicit, source: 'RouterCallbackHost' };
  const varName = env.LAMBDA_DISPATCH_EnvVarForCallbackIp?.trim() || 'K8S_POD_IP';
  const fromVar = env[varName]?.trim();
  if (fromVar) return { host: fromVar, source: 'EnvVarForCallbackIp' };
  return undefined;
}

function workerSecret(env: Env): string | undefined {
  const v = env.LAMBDA_DISPATCH_WorkerSecret;
  if (v === undefined || v === '') return undefined;
  if (v.length < 16) throw new ConfigError('LAMBDA_DISPATCH_WorkerSecret must be at least 16 characters');
  return v;
}

export function loadRouterConfig(env: Env = process.env): RouterConfig {
  const maxConcurrentCount = int(env, 'LAMBDA_DISPATCH_MaxConcurrentCount', 10, 1, 1000);
  const channelCount = int(env, 'LAMBDA_DISPATCH_ChannelCount', Math.max(20, maxConcurrentCount), 1, 1000);
  if (channelCount < maxConcurrentCount) {
    throw new ConfigError(
      `LAMBDA_DISPATCH_ChannelCount (${channelCount}) must be at least LAMBDA_DISPATCH_MaxConcurrentCount (${maxConcurrentCount}): one request at a time per channel`,
    );
  }
  const minInstances = int(env, 'LAMBDA_DISPATCH_MinInstances', 0, 0, 10_000);
  const maxInstances = int(env, 'LAMBDA_DISPATCH_MaxInstances', 1000, 1, 10_000);
  if (minInstances > maxInstances) {
    throw new ConfigError(`LAMBDA_DISPATCH_MinInstances (${minInstances}) exceeds LAMBDA_DISPATCH_MaxInstances (${maxInstances})`);
  }
  const ringBytes = int(env, 'LAMBDA_DISPATCH_RingBytes', 4 * 1024 * 1024, 65536, 2 ** 30);
  if ((ringBytes & (ringBytes - 1)) !== 0) throw new ConfigError(`LAMBDA_DISPATCH_RingBytes must be a power of two, got ${ringBytes}`);
  return {
    functionName: env.LAMBDA_DISPATCH_FunctionName?.trim() || 'lambda-dispatch-demo',
    channelCount,
    maxConcurrentCount,
    instanceCountMultiplier: num(env, 'LAMBDA_DISPATCH_InstanceCountMultiplier', 2, 1, 100),
    incomingPort: int(env, 'LAMBDA_DISPATCH_IncomingRequestHTTPPort', 5001, 0, 65535),
    controlPort: int(env, 'LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port', 5003, 0, 65535),
    callbackHost: configuredCallbackHost(env)?.host ?? '127.0.0.1',
    scalingAlgorithm: oneOf(env, 'LAMBDA_DISPATCH_ScalingAlgorithm', 'simple', ['simple', 'ewma'] as const),
    incomingRequestTimeoutMs: Math.round(num(env, 'LAMBDA_DISPATCH_IncomingRequestTimeout', 60, 0.001, 3600) * 1000),
    maxPendingRequests: int(env, 'LAMBDA_DISPATCH_MaxPendingRequests', 10_000, 1, 10_000_000),
    minInstances,
    maxInstances,
    functionTimeoutMs: int(env, 'LAMBDA_DISPATCH_FunctionTimeout', 900, 1, 900) * 1000,
    pingIntervalMs: int(env, 'LAMBDA_DISPATCH_PingIntervalMs', 2000, 50, 60_000),
    windowBytes: int(env, 'LAMBDA_DISPATCH_WindowBytes', 512 * 1024, 16 * 1024, 64 * 1024 * 1024),
    ringBytes,
    maxHeaderBytes: int(env, 'LAMBDA_DISPATCH_MaxHeaderBytes', 16 * 1024, 1024, 1024 * 1024),
    scaleOutIntervalMs: int(env, 'LAMBDA_DISPATCH_ScaleOutIntervalMs', 2000, 0, 600_000),
    scaleInIntervalMs: int(env, 'LAMBDA_DISPATCH_ScaleInIntervalMs', 5000, 0, 3_600_000),
    replacementWaitMs: int(env, 'LAMBDA_DISPATCH_ReplacementWaitMs', 2000, 0, 600_000),
    prewarmOnStart: bool(env, 'LAMBDA_DISPATCH_PrewarmOnStart', false),
    workerSecret: workerSecret(env),
    lambdaEndpoint: env.AWS_ENDPOINT_URL_LAMBDA?.trim() || undefined,
    region: env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || 'us-east-1',
  };
}
