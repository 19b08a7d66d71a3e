// The extension's own JSON log inside Lambda: a line per request it served that failed, got a 5xx
// or was aborted, and a share of the rest (LAMBDA_DISPATCH_AccessLogSample, default none: the
// router's access log has every request), carrying the request's
// trace ids so that it can be joined with the router's access log and the app's own lines.
// With AWS_LAMBDA_LOG_FORMAT=JSON the lines take Lambda's JSON shape (timestamp, level in
// capitals, message, requestId), so CloudWatch shows them as it shows the runtime's own.

import { pino, destination, type Logger } from 'pino';
import { AMZN_TRACE_ID, TRACEPARENT, traceIdOf } from '../core/trace-context.ts';
import type { AppCall } from './app-call.ts';

export type { Logger } from 'pino';

type Env = Record<string, string | undefined>;

const LAMBDA_LEVELS: Record<string, string> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error', FATAL: 'fatal' };

let shared: Logger | undefined;

/** The process's extension logger on stdout (one per process: every handler shares its writer). */
export function extensionLogger(env: Env = process.env): Logger {
  return (shared ??= createExtensionLogger(env));
}

/** Batched as the router's log is (4 KiB or a second); the handler flushes before it returns. */
export function createExtensionLogger(env: Env, dest = destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 })): Logger {
  const lambdaJson = env.AWS_LAMBDA_LOG_FORMAT === 'JSON';
  const level = LAMBDA_LEVELS[(env.AWS_LAMBDA_LOG_LEVEL ?? '').toUpperCase()] ?? 'info';
  return pino(
    lambdaJson
      ? {
          level,
          base: null,
          messageKey: 'message',
          timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
          formatters: { level: (label) => ({ level: label.toUpperCase() }) },
        }
      : { level, base: null, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    dest,
  );
}

export class RequestLog {
  constructor(
    private readonly logger: Logger,
    private readonly sample: number,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Lines that also carry `fields`: an invocation's name its Lambda request id (as Lambda's own
   * lines do) and the router's short instance id; a container worker's, its worker id.
   */
  with(fields: Record<string, string>): RequestLog {
    return new RequestLog(this.logger.child(fields), this.sample, this.random);
  }

  /** A request ended: `error` when it failed (RES_ERROR), else the app's status is the outcome. */
  write(call: AppCall, error: string | null, aborted: boolean): void {
    const status = call.appRes?.statusCode ?? 0;
    if (error === null && status < 500 && !aborted && this.sample < 1 && (this.sample <= 0 || this.random() >= this.sample)) return;
    if (!this.logger.isLevelEnabled('info')) return;
    let traceparent: string | undefined;
    let amznTraceId: string | undefined;
    const h = call.head.headers;
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] === TRACEPARENT) traceparent = h[i + 1];
      else if (h[i] === AMZN_TRACE_ID) amznTraceId = h[i + 1];
    }
    this.logger.info({
      type: 'access',
      method: call.head.method,
      path: call.head.target,
      status,
      durationMs: Math.round((performance.now() - call.startedAt) * 1000) / 1000,
      aborted,
      error,
      traceId: traceparent !== undefined ? traceIdOf(traceparent) : null,
      amznTraceId: amznTraceId ?? null,
    }, `${call.head.method} ${call.head.target} ${status}`);
  }

  /** Before the environment may be frozen: what is buffered goes out now. */
  flush(): void {
    this.logger.flush();
  }
}
