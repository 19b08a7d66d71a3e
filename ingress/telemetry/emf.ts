// CloudWatch metrics with no agent and no API calls: every LAMBDA_DISPATCH_EmfIntervalMs the
// router writes one log line in the Embedded Metric Format, which CloudWatch Logs turns into
// metrics in LAMBDA_DISPATCH_EmfNamespace, dimension Service = LAMBDA_DISPATCH_EmfService.
//
// Distributions (RequestDuration, QueueWait, AppTime) are sent as up to 100 values, the format's
// limit for one metric: all of them when the interval had fewer, else the interval's quantiles
// at 0.5 %, 1.5 %, … 99.5 % (from an HDR histogram), so CloudWatch's p50/p99 of an interval are
// the router's own to within a percentile step. Counts come from the Requests metric, not from
// these samples. docs/ARCHITECTURE.md, "Observability".

import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { Logger } from 'pino';
import { NEVER } from '../../core/records.ts';
import type { RouterStatus } from '../admin.ts';
import type { RequestRecord } from './request-record.ts';

export const EMF_DIMENSION = 'Service';
const MAX_VALUES = 100;
const MAX_US = 3_600_000_000;

type Unit = 'Count' | 'Milliseconds';
/** Every metric of the line, with its unit (infra/sst's dashboard and alarms name these). */
export const EMF_METRICS = {
  Requests: 'Count',
  Responses4xx: 'Count',
  Responses5xx: 'Count',
  RequestDuration: 'Milliseconds',
  QueueWait: 'Milliseconds',
  AppTime: 'Milliseconds',
  Invokes: 'Count',
  InvokeFailures: 'Count',
  InFlight: 'Count',
  Waiting: 'Count',
  Instances: 'Count',
} as const satisfies Record<string, Unit>;

export type EmfDocument = { _aws: { Timestamp: number; CloudWatchMetrics: unknown[] } } & Record<string, unknown>;

class Distribution {
  private readonly h: Histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 2, autoResize: false });
  private readonly raw: number[] = [];

  record(us: number): void {
    this.h.recordValue(Math.min(Math.max(1, us), MAX_US));
    if (this.raw.length < MAX_VALUES) this.raw.push(us);
  }

  /** In ms: every value, or 100 quantiles when there were more. */
  valuesMs(): number[] {
    const n = this.h.totalCount;
    const out: number[] = [];
    if (n <= MAX_VALUES) for (const us of this.raw) out.push(round(us / 1000));
    else for (let i = 0; i < MAX_VALUES; i++) out.push(round(this.h.getValueAtPercentile(((i + 0.5) * 100) / MAX_VALUES) / 1000));
    return out;
  }

  get count(): number {
    return this.h.totalCount;
  }

  reset(): void {
    this.h.reset();
    this.raw.length = 0;
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/** The interval's figures, turned into one EMF document on `flush`. Pure: the caller owns the clock and the output. */
export class EmfAggregator {
  private requests = 0;
  private r4xx = 0;
  private r5xx = 0;
  private readonly duration = new Distribution();
  private readonly queueWait = new Distribution();
  private readonly appTime = new Distribution();
  /** Invoke totals at the last flush, so each document carries the interval's difference. */
  private invokesAt = { started: 0, failed: 0 };

  constructor(
    private readonly namespace: string,
    private readonly service: string,
  ) {}

  observe(r: RequestRecord): void {
    this.requests++;
    if (r.status >= 500 || (r.status === 0 && r.routerError !== null)) this.r5xx++;
    else if (r.status >= 400) this.r4xx++;
    this.duration.record(r.durationMs * 1000);
    const rep = r.report;
    if (rep === null) return;
    this.queueWait.record(rep.queueUs);
    if (rep.upstreamUs !== NEVER) this.appTime.record(rep.upstreamUs);
  }

  flush(now: number, status: RouterStatus | null): EmfDocument {
    const invokes = status?.invokes ?? this.invokesAt;
    const doc: EmfDocument = {
      _aws: {
        Timestamp: Math.round(now),
        CloudWatchMetrics: [
          {
            Namespace: this.namespace,
            Dimensions: [[EMF_DIMENSION]],
            // A distribution with no value this interval is left out: CloudWatch rejects an empty array.
            Metrics: Object.entries(EMF_METRICS)
              .filter(([name]) => !this.emptyDistribution(name))
              .map(([Name, Unit]) => ({ Name, Unit })),
          },
        ],
      },
      [EMF_DIMENSION]: this.service,
      Requests: this.requests,
      Responses4xx: this.r4xx,
      Responses5xx: this.r5xx,
      Invokes: Math.max(0, invokes.started - this.invokesAt.started),
      InvokeFailures: Math.max(0, invokes.failed - this.invokesAt.failed),
      InFlight: status?.inFlight ?? 0,
      Waiting: status?.pending ?? 0,
      Instances: status === null ? 0 : status.instances.starting + status.instances.open + status.instances.draining,
    };
    for (const [name, d] of [['RequestDuration', this.duration], ['QueueWait', this.queueWait], ['AppTime', this.appTime]] as const) {
      const values = d.valuesMs();
      if (values.length > 0) doc[name] = values;
      d.reset();
    }
    this.invokesAt = { started: invokes.started, failed: invokes.failed };
    this.requests = this.r4xx = this.r5xx = 0;
    return doc;
  }

  private emptyDistribution(name: string): boolean {
    const d = name === 'RequestDuration' ? this.duration : name === 'QueueWait' ? this.queueWait : name === 'AppTime' ? this.appTime : null;
    return d !== null && d.count === 0;
  }
}

/** Writes the aggregator's document every `intervalMs` as its own log line (the EMF line must be one JSON object). */
export class EmfPublisher {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly aggregator: EmfAggregator,
    private readonly out: Logger,
    private readonly status: () => Promise<RouterStatus>,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.publish(), intervalMs);
    this.timer.unref();
  }

  observe(r: RequestRecord): void {
    this.aggregator.observe(r);
  }

  async publish(): Promise<void> {
    const status = await this.status().catch(() => null);
    this.out.info(this.aggregator.flush(Date.now(), status));
  }

  /** The drain's last word: what the final partial interval saw. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.publish();
  }
}
