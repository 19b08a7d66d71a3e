// Router settings from the environment. Names keep the original system's `LAMBDA_DISPATCH_*`
// spelling so that existing deployments carry over; a bad value fails at start naming the variable.
// The readers are the shared ones of core/settings/env.ts; this file stays where the dispatcher,
// the ingress and the tests have always imported RouterConfig from.

import { loadRoutedFunctions, type RoutedFunctions } from './routing/function-configs.ts';
import { boolean, cidrList, decimal, envReader, host, integer, milliseconds, oneOf, port, refine, secret, SettingError, text, url } from './settings/env.ts';

export type ScalingAlgorithm = 'simple' | 'ewma';

export interface RouterConfig {
  functionName: string;
  /**
   * Several functions behind the router (LAMBDA_DISPATCH_Routes, core/routing/): the declaration
   * and each function's own settings, in its order. Unset: one function, functionName.
   */
  routes: RoutedFunctions<RouterConfig> | undefined;
  /** WebSocket channels each instance opens; extra ones beyond maxConcurrent are spares. */
  channelCount: number;
  /** Upgraded connections (WebSockets) one instance may hold at once, beside its requests. */
  maxSocketsPerInstance: number;
  /**
   * Bounds of the requests one instance is given at once, learned between them from its load
   * (core/dispatcher/concurrency.ts); equal, the limit is fixed.
   */
  minConcurrentCount: number;
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
  /**
   * Where the dispatcher runs: its own worker thread, the main thread, or `auto` (the main thread
   * when the process may use one CPU or less, ingress/dispatcher-thread.ts).
   */
  dispatcherThread: 'auto' | 'worker' | 'main';
  maxHeaderBytes: number;
  scaleOutIntervalMs: number;
  scaleInIntervalMs: number;
  /**
   * An open instance that has served no request for this long is released, one scale-in step per
   * tick, whatever the scale-in interval (MinInstances still holds). Default 5000 ms: Lambda bills
   * an instance for every ms its invocation is held, busy or not, so an idle one costs its full
   * rate; getting it back costs a new invoke, at most a cold start (~0.2–2 s, billed, plus the
   * wait of the requests behind it) and usually less, because Lambda keeps a returned environment
   * warm for minutes. Holding for a couple of cold starts' worth bounds the waste at about twice
   * what re-invoking would cost (the ski-rental rule), and outlasts the scale-out interval (2 s),
   * so a load that pauses for a breath finds its instances still there.
   */
  idleReleaseMs: number;
  /** An instance that asked to leave keeps serving at most this long while its replacement starts. */
  replacementWaitMs: number;
  /** Invoke the function once with initOnly at start so an environment is initialised before it is needed. */
  prewarmOnStart: boolean;
  /** Shared secret of container workers (permanent capacity); unset: worker mode off. */
  workerSecret: string | undefined;
  /** Lambda endpoint override (the local Lambda); unset means the SDK's default resolution. */
  lambdaEndpoint: string | undefined;
  region: string;
  /** Address the router listens on; unset: the entry point's default (0.0.0.0 in the container). */
  bindHost: string | undefined;
  /** After SIGTERM, requests in flight get this long to finish before the process exits. */
  shutdownGraceMs: number;
  /** After a client left, how long the peer has to confirm the abort before its channel is closed. */
  abortAckMs: number;
  /**
   * Peers (CIDRs) whose `x-forwarded-*` headers are believed, e.g. the load balancer's subnets. A
   * request from anywhere else has them replaced by what the router itself sees.
   */
  trustProxy: readonly string[];
  /** The admin listener (status; health again): 0 = ephemeral. Never the client port. */
  adminPort: number;
  /** Interface of the admin listener: loopback unless set, whatever bindHost is. */
  adminBindHost: string;
  /** The control port serves wss:// with a pinned certificate; false: plain ws:// (local use only). */
  controlTls: boolean;
  /** Multiplex the channels of extensions that ask for it (docs/PROTOCOL.md, "Multiplexed channels"). */
  multiplex: boolean;
  /** PEM certificate of the control port; unset (with tlsKeyFile): one is generated at start. */
  tlsCertFile: string | undefined;
  /** PEM private key of tlsCertFile. Only the path is here: the key is read on the dispatcher thread. */
  tlsKeyFile: string | undefined;
  /**
   * The certificate and key as PEM text (LAMBDA_DISPATCH_TlsCert / _TlsKey), for a deployment
   * whose secret store hands out values, not files (ECS). A pin that outlives restarts, as the files give.
   */
  tlsCertPem: string | undefined;
  tlsKeyPem: string | undefined;
  /** Per-request metrics and the access log; off only to measure what they cost (the bench's `router-quiet`). */
  requestTelemetry: boolean;
  /** Least level of the router's JSON log lines (pino's levels; 'silent' for none). */
  logLevel: LogLevel;
  /** Share of requests (0–1) that get an access-log line; 5xx responses and client aborts always do. */
  accessLogSample: number;
  /** CloudWatch Embedded Metric Format: the namespace; unset: no EMF lines. */
  emfNamespace: string | undefined;
  /** The value of EMF's one dimension, `Service` (this deployment). */
  emfService: string;
  emfIntervalMs: number;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Shorter secrets are guessable; the worker CLI holds its side to the same length. */
export const WORKER_SECRET_MIN_LENGTH = 16;

/**
 * The router and the worker CLI both drain for LAMBDA_DISPATCH_ShutdownGraceMs. ECS waits its
 * stopTimeout (at most 120 s) after SIGTERM; an hour is far past any useful drain.
 */
export const SHUTDOWN_GRACE_MS = milliseconds({ whole: true, max: 3_600_000 });
export const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;

/** The shared settings error under the name the router's callers have always caught. */
export { SettingError as ConfigError } from './settings/env.ts';

type Env = Record<string, string | undefined>;

/** An environment variable's name, as LAMBDA_DISPATCH_EnvVarForCallbackIp holds one. */
const envVarName = refine(text, (v) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(v), 'an environment variable name');

export type CallbackHostSource = 'RouterCallbackHost' | 'EnvVarForCallbackIp' | 'ecs-metadata' | 'loopback';

/**
 * The address the function must call back, when the settings name it: LAMBDA_DISPATCH_RouterCallbackHost,
 * else the variable named by LAMBDA_DISPATCH_EnvVarForCallbackIp (K8S_POD_IP by default). Otherwise
 * the router process finds it (ingress/callback-host.ts: ECS task metadata, else loopback).
 */
export function configuredCallbackHost(env: Env): { host: string; source: CallbackHostSource } | undefined {
  const read = envReader(env);
  const explicit = read('LAMBDA_DISPATCH_RouterCallbackHost', host);
  if (explicit !== undefined) return { host: explicit, source: 'RouterCallbackHost' };
  const varName = read('LAMBDA_DISPATCH_EnvVarForCallbackIp', envVarName, 'K8S_POD_IP');
  const fromVar = read(varName, host);
  if (fromVar !== undefined) return { host: fromVar, source: 'EnvVarForCallbackIp' };
  return undefined;
}

/**
 * The most requests an instance may be given at once, by default: a CPU-light app learns its way
 * up to it (one environment of a small Express route served 64 at once at three times the rate of
 * twelve environments held to 10), a CPU-heavy one down from INITIAL_CONCURRENT.
 */
export const DEFAULT_MAX_CONCURRENT = 32;
/**
 * A WebSocket costs its environment little while it waits for messages: many share one, the
 * point of carrying them here; past a hundred a broadcast or a burst of messages lands on one
 * event loop, and a deadline closes that many at once.
 */
export const DEFAULT_MAX_SOCKETS = 100;
/** Where a new instance's learned limit starts (the old fixed default), within the bounds. */
export const INITIAL_CONCURRENT = 10;

/**
 * Instances run at 80 % of their learned limit. The limit already keeps headroom (it rises only
 * while the loop would stay under 60 % busy with every slot in use), so the original's 2 counted
 * it twice: with learned limits it held twice the instances a steady load needs (a simulated
 * /delay at 50 in flight settled on 6 instances of 19.5 against 2 of 32 at 1.25, see
 * learning-loop.test.ts); what is left covers a rise until the next scale-out, and requests
 * beyond it wait for a channel rather than fail.
 */
export const DEFAULT_INSTANCE_COUNT_MULTIPLIER = 1.25;

/** Validated once at start and frozen: the dispatcher thread and the ingress read the same values. */
export function loadRouterConfig(env: Env = process.env): RouterConfig {
  const read = envReader(env);
  const maxConcurrentCount = read('LAMBDA_DISPATCH_MaxConcurrentCount', integer({ min: 1, max: 1000 }), DEFAULT_MAX_CONCURRENT);
  const minConcurrentCount = read('LAMBDA_DISPATCH_MinConcurrentCount', integer({ min: 1, max: 1000 }), Math.min(1, maxConcurrentCount));
  if (minConcurrentCount > maxConcurrentCount) {
    throw new SettingError(
      'LAMBDA_DISPATCH_MinConcurrentCount',
      env.LAMBDA_DISPATCH_MinConcurrentCount,
      `at most LAMBDA_DISPATCH_MaxConcurrentCount (${maxConcurrentCount})`,
      `LAMBDA_DISPATCH_MinConcurrentCount (${minConcurrentCount}) exceeds LAMBDA_DISPATCH_MaxConcurrentCount (${maxConcurrentCount})`,
    );
  }
  const maxSocketsPerInstance = read('LAMBDA_DISPATCH_MaxSocketsPerInstance', integer({ min: 0, max: 5000 }), DEFAULT_MAX_SOCKETS);
  // A socket holds a channel for its life, beside the channels of the requests at once.
  const channelCount = read('LAMBDA_DISPATCH_ChannelCount', integer({ min: 1, max: 10_000 }), Math.max(20, maxConcurrentCount + maxSocketsPerInstance));
  if (channelCount < maxConcurrentCount) {
    throw new SettingError(
      'LAMBDA_DISPATCH_ChannelCount',
      env.LAMBDA_DISPATCH_ChannelCount ?? channelCount,
      `at least LAMBDA_DISPATCH_MaxConcurrentCount (${maxConcurrentCount})`,
      `LAMBDA_DISPATCH_ChannelCount (${channelCount}) must be at least LAMBDA_DISPATCH_MaxConcurrentCount (${maxConcurrentCount}): one request at a time per channel`,
    );
  }
  const minInstances = read('LAMBDA_DISPATCH_MinInstances', integer({ min: 0, max: 10_000 }), 0);
  const maxInstances = read('LAMBDA_DISPATCH_MaxInstances', integer({ min: 1, max: 10_000 }), 1000);
  if (minInstances > maxInstances) {
    throw new SettingError(
      'LAMBDA_DISPATCH_MinInstances',
      env.LAMBDA_DISPATCH_MinInstances,
      `at most LAMBDA_DISPATCH_MaxInstances (${maxInstances})`,
      `LAMBDA_DISPATCH_MinInstances (${minInstances}) exceeds LAMBDA_DISPATCH_MaxInstances (${maxInstances})`,
    );
  }
  const incomingPort = read('LAMBDA_DISPATCH_IncomingRequestHTTPPort', port({ allowZero: true }), 5001);
  const controlPort = read('LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port', port({ allowZero: true }), 5003);
  const adminPort = read('LAMBDA_DISPATCH_AdminPort', port({ allowZero: true }), 5002);
  for (const [other, value] of [
    ['LAMBDA_DISPATCH_IncomingRequestHTTPPort', incomingPort],
    ['LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port', controlPort],
  ] as const) {
    if (adminPort !== 0 && adminPort === value) {
      throw new SettingError(
        'LAMBDA_DISPATCH_AdminPort',
        env.LAMBDA_DISPATCH_AdminPort ?? adminPort,
        `a port other than ${other} (${value})`,
        `LAMBDA_DISPATCH_AdminPort (${adminPort}) must differ from ${other} (${value})`,
      );
    }
  }
  const controlTls = read('LAMBDA_DISPATCH_ControlTls', boolean, true);
  const tlsCertFile = read('LAMBDA_DISPATCH_TlsCertFile', text);
  const tlsKeyFile = read('LAMBDA_DISPATCH_TlsKeyFile', text);
  // One without the other would mean a certificate nobody can prove to own, or a key for nothing.
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    const missing = tlsCertFile === undefined ? 'LAMBDA_DISPATCH_TlsCertFile' : 'LAMBDA_DISPATCH_TlsKeyFile';
    const given = tlsCertFile === undefined ? 'LAMBDA_DISPATCH_TlsKeyFile' : 'LAMBDA_DISPATCH_TlsCertFile';
    throw new SettingError(missing, undefined, `set together with ${given}`, `${missing} must be set together with ${given} (both or neither)`);
  }
  // PEM text: `\n` written out (a one-line secret) means a line break.
  const pem = (v: string | undefined) => v?.replace(/\\n/g, '\n');
  const tlsCertPem = pem(read('LAMBDA_DISPATCH_TlsCert', text));
  const tlsKeyPem = pem(read('LAMBDA_DISPATCH_TlsKey', text));
  if ((tlsCertPem === undefined) !== (tlsKeyPem === undefined)) {
    const missing = tlsCertPem === undefined ? 'LAMBDA_DISPATCH_TlsCert' : 'LAMBDA_DISPATCH_TlsKey';
    const given = tlsCertPem === undefined ? 'LAMBDA_DISPATCH_TlsKey' : 'LAMBDA_DISPATCH_TlsCert';
    throw new SettingError(missing, undefined, `set together with ${given}`, `${missing} must be set together with ${given} (both or neither)`);
  }
  if (tlsCertPem !== undefined && tlsCertFile !== undefined) {
    throw new SettingError('LAMBDA_DISPATCH_TlsCert', '(PEM)', 'unset while LAMBDA_DISPATCH_TlsCertFile is set', 'LAMBDA_DISPATCH_TlsCert and LAMBDA_DISPATCH_TlsCertFile are both set: give the certificate one way');
  }
  if (!controlTls && tlsCertPem !== undefined) {
    throw new SettingError('LAMBDA_DISPATCH_ControlTls', env.LAMBDA_DISPATCH_ControlTls, 'true while LAMBDA_DISPATCH_TlsCert is set', 'LAMBDA_DISPATCH_ControlTls is false but LAMBDA_DISPATCH_TlsCert and LAMBDA_DISPATCH_TlsKey are set: unset them, or turn TLS on');
  }
  // Files for a port that will not use them: whoever set them believes the channel is encrypted.
  if (!controlTls && tlsCertFile !== undefined) {
    throw new SettingError(
      'LAMBDA_DISPATCH_ControlTls',
      env.LAMBDA_DISPATCH_ControlTls,
      'true while LAMBDA_DISPATCH_TlsCertFile is set',
      'LAMBDA_DISPATCH_ControlTls is false but LAMBDA_DISPATCH_TlsCertFile and LAMBDA_DISPATCH_TlsKeyFile are set: unset them, or turn TLS on',
    );
  }
  return Object.freeze({
    functionName: read('LAMBDA_DISPATCH_FunctionName', text, 'lambda-dispatch-demo'),
    routes: loadRoutedFunctions(env, loadRouterConfig),
    channelCount,
    maxSocketsPerInstance,
    minConcurrentCount,
    maxConcurrentCount,
    instanceCountMultiplier: read('LAMBDA_DISPATCH_InstanceCountMultiplier', decimal({ min: 1, max: 100 }), DEFAULT_INSTANCE_COUNT_MULTIPLIER),
    incomingPort,
    controlPort,
    callbackHost: configuredCallbackHost(env)?.host ?? '127.0.0.1',
    scalingAlgorithm: read('LAMBDA_DISPATCH_ScalingAlgorithm', oneOf(['simple', 'ewma']), 'simple'),
    // In seconds, as the original system has it; fractions allowed.
    incomingRequestTimeoutMs: Math.round(read('LAMBDA_DISPATCH_IncomingRequestTimeout', decimal({ min: 0.001, max: 3600 }), 60) * 1000),
    maxPendingRequests: read('LAMBDA_DISPATCH_MaxPendingRequests', integer({ min: 1, max: 10_000_000 }), 10_000),
    minInstances,
    maxInstances,
    // In seconds, with Lambda's own bounds.
    functionTimeoutMs: read('LAMBDA_DISPATCH_FunctionTimeout', integer({ min: 1, max: 900 }), 900) * 1000,
    pingIntervalMs: read('LAMBDA_DISPATCH_PingIntervalMs', milliseconds({ whole: true, min: 50, max: 60_000 }), 2000),
    windowBytes: read('LAMBDA_DISPATCH_WindowBytes', integer({ min: 16 * 1024, max: 64 * 1024 * 1024 }), 512 * 1024),
    // The ring indexes with a mask, which only works for a power of two.
    ringBytes: read(
      'LAMBDA_DISPATCH_RingBytes',
      refine(integer({ min: 65_536, max: 2 ** 30 }), (v) => (v & (v - 1)) === 0, `a power of two from 65536 to ${2 ** 30}`),
      4 * 1024 * 1024,
    ),
    dispatcherThread: read('LAMBDA_DISPATCH_DispatcherThread', oneOf(['auto', 'worker', 'main']), 'auto'),
    maxHeaderBytes: read('LAMBDA_DISPATCH_MaxHeaderBytes', integer({ min: 1024, max: 1024 * 1024 }), 16 * 1024),
    scaleOutIntervalMs: read('LAMBDA_DISPATCH_ScaleOutIntervalMs', milliseconds({ whole: true, max: 600_000 }), 2000),
    scaleInIntervalMs: read('LAMBDA_DISPATCH_ScaleInIntervalMs', milliseconds({ whole: true, max: 3_600_000 }), 5000),
    idleReleaseMs: read('LAMBDA_DISPATCH_IdleReleaseMs', milliseconds({ whole: true, min: 100, max: 3_600_000 }), 5000),
    replacementWaitMs: read('LAMBDA_DISPATCH_ReplacementWaitMs', milliseconds({ whole: true, max: 600_000 }), 2000),
    prewarmOnStart: read('LAMBDA_DISPATCH_PrewarmOnStart', boolean, false),
    workerSecret: read('LAMBDA_DISPATCH_WorkerSecret', secret({ minLength: WORKER_SECRET_MIN_LENGTH })),
    lambdaEndpoint: read('AWS_ENDPOINT_URL_LAMBDA', url(['http:', 'https:'])),
    region: read('AWS_REGION', text) ?? read('AWS_DEFAULT_REGION', text, 'us-east-1'),
    bindHost: read('LAMBDA_DISPATCH_BindHost', host),
    shutdownGraceMs: read('LAMBDA_DISPATCH_ShutdownGraceMs', SHUTDOWN_GRACE_MS, DEFAULT_SHUTDOWN_GRACE_MS),
    abortAckMs: read('LAMBDA_DISPATCH_AbortAckMs', milliseconds({ whole: true, min: 100, max: 600_000 }), 2000),
    trustProxy: Object.freeze(read('LAMBDA_DISPATCH_TrustProxy', cidrList, [])),
    adminPort,
    adminBindHost: read('LAMBDA_DISPATCH_AdminBindHost', host, '127.0.0.1'),
    controlTls,
    multiplex: read('LAMBDA_DISPATCH_Multiplex', boolean, true),
    tlsCertFile,
    tlsKeyFile,
    tlsCertPem,
    tlsKeyPem,
    requestTelemetry: read('LAMBDA_DISPATCH_RequestTelemetry', boolean, true),
    logLevel: read('LAMBDA_DISPATCH_LogLevel', oneOf(LOG_LEVELS), 'info'),
    accessLogSample: read('LAMBDA_DISPATCH_AccessLogSample', decimal({ min: 0, max: 1 }), 1),
    emfNamespace: read('LAMBDA_DISPATCH_EmfNamespace', text),
    emfService: read('LAMBDA_DISPATCH_EmfService', text) ?? read('LAMBDA_DISPATCH_FunctionName', text, 'lambda-dispatch-demo'),
    // CloudWatch's standard resolution is a minute: a shorter interval costs log bytes and buys nothing.
    emfIntervalMs: read('LAMBDA_DISPATCH_EmfIntervalMs', milliseconds({ whole: true, min: 1000, max: 3_600_000 }), 60_000),
  });
}
