// One JSON line per client request (not the health check), written when the request ends:
// what the client asked and got, how long each part took, which instance served it, and its
// trace ids, so one request can be followed from the load balancer's log to the app's.
// Sampled by LAMBDA_DISPATCH_AccessLogSample; a 5xx or a client that left is always logged.

import type { Logger } from 'pino';
import { NEVER } from '../../core/records.ts';
import type { ForwardedHeaders } from '../forwarded.ts';
import type { RequestRecord } from './request-record.ts';

export class AccessLog {
  private readonly log: Logger;

  constructor(
    logger: Logger,
    private readonly sample: number,
    private readonly forwarded: ForwardedHeaders,
    private readonly random: () => number = Math.random,
  ) {
    this.log = logger.child({ type: 'access' });
  }

  write(r: RequestRecord): void {
    if (!this.log.isLevelEnabled('info')) return;
    if (this.sample < 1 && r.status < 500 && !r.aborted && this.random() >= this.sample) return;
    const rep = r.report;
    this.log.info({
      method: r.method,
      path: r.target,
      status: r.status,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      durationMs: ms(r.durationMs),
      queueMs: rep === null ? null : micros(rep.queueUs),
      firstByteMs: rep === null ? null : micros(rep.firstByteUs),
      upstreamMs: rep === null ? null : micros(rep.upstreamUs),
      instance: rep === null || rep.instance === '' ? null : rep.instance,
      retries: rep?.retries ?? 0,
      aborted: r.aborted,
      error: r.routerError,
      client: this.forwarded.clientOf(r.req),
      traceId: r.trace?.traceId ?? null,
      amznTraceId: r.trace?.amznTraceId ?? null,
    }, `${r.method} ${r.target} ${r.status}`);
  }
}

const ms = (v: number) => Math.round(v * 1000) / 1000;
const micros = (us: number) => (us === NEVER ? null : us / 1000);
