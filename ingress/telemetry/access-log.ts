// One JSON line per client request (not the health check), written when the request ends:
// what the client asked and got, how long each part took, which instance served it, and its
// trace ids, so one request can be followed from the load balancer's log to the app's.
// Sampled by LAMBDA_DISPATCH_AccessLogSample; a 5xx or a client that left is always logged.
//
// The line has a fixed shape, so it is serialised by a function compiled from its schema
// (fast-json-stringify, as Fastify serialises replies) and appended to the logger's own
// destination, in order with its other lines: pino's generic path (key by key, with its
// escaping and child bindings) cost four times as much per request, the single largest cost
// of observability on the request path.

import fastJson from 'fast-json-stringify';
import { symbols, type Logger } from 'pino';
import { NEVER } from '../../core/records.ts';
import type { ForwardedHeaders } from '../forwarded.ts';
import type { RequestRecord } from './request-record.ts';

const num = { type: 'number' } as const;
const str = { type: 'string' } as const;
const numOrNull = { type: 'number', nullable: true } as const;
const strOrNull = { type: 'string', nullable: true } as const;

/** The line's fields, in order (README: Observability shows one). */
const serialize = fastJson({
  type: 'object',
  properties: {
    level: str,
    time: str,
    type: str,
    method: str,
    path: str,
    status: num,
    bytesIn: num,
    bytesOut: num,
    durationMs: num,
    queueMs: numOrNull,
    firstByteMs: numOrNull,
    upstreamMs: numOrNull,
    instance: strOrNull,
    retries: num,
    aborted: { type: 'boolean' },
    error: strOrNull,
    client: str,
    traceId: strOrNull,
    amznTraceId: strOrNull,
    msg: str,
  },
});

interface Writable {
  write(line: string): unknown;
}

export class AccessLog {
  private readonly out: Writable;
  private readonly enabled: boolean;

  constructor(
    logger: Logger,
    private readonly sample: number,
    private readonly forwarded: ForwardedHeaders,
    private readonly random: () => number = Math.random,
  ) {
    this.out = (logger as unknown as Record<symbol, Writable>)[symbols.streamSym]!;
    this.enabled = logger.isLevelEnabled('info');
  }

  write(r: RequestRecord): void {
    if (!this.enabled) return;
    if (this.sample < 1 && r.status < 500 && !r.aborted && this.random() >= this.sample) return;
    const rep = r.report;
    this.out.write(
      serialize({
        level: 'info',
        time: isoTime(Date.now()),
        type: 'access',
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
        msg: `${r.method} ${r.target} ${r.status}`,
      }) + '\n',
    );
  }
}

const ms = (v: number) => Math.round(v * 1000) / 1000;
const micros = (us: number) => (us === NEVER ? null : us / 1000);

// ISO time as pino's isoTime writes it, with the date part made once a second.
let second = -1;
let prefix = '';
function isoTime(now: number): string {
  const s = Math.floor(now / 1000);
  if (s !== second) {
    second = s;
    prefix = new Date(s * 1000).toISOString().slice(0, 20);
  }
  const millis = now - s * 1000;
  return `${prefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}
