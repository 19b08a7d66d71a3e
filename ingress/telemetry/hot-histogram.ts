// A histogram whose observation is a bucket search and three additions, for the request path:
// prom-client's own observe hashes labels and allocates on every call, which at thousands of
// requests a second was most of what the metrics cost. The scrape renders it through prom-client
// (it implements the registry's metric contract: name, help, type, get()), so the exposition
// format is still the library's.

import type { Registry } from 'prom-client';

export interface HistogramSnapshot {
  /** Upper bounds, Infinity last. */
  le: number[];
  /** Cumulative counts per bound. */
  counts: number[];
  count: number;
  sum: number;
}

export class HotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly perBucket: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    this.perBucket = new Float64Array(bounds.length + 1);
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.perBucket[i]!++;
    this.sum += value;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    const le = [...this.bounds, Infinity];
    const counts: number[] = [];
    let running = 0;
    for (const n of this.perBucket) counts.push((running += n));
    return { le, counts, count: this.count, sum: this.sum };
  }

  /** prom-client's metric contract: what Registry.metrics() renders. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] }> {
    const s = this.snapshot();
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = s.le.map((le, i) => ({
      labels: { le: le === Infinity ? '+Inf' : le },
      value: s.counts[i]!,
      metricName: `${this.name}_bucket`,
    }));
    values.push({ labels: {}, value: s.sum, metricName: `${this.name}_sum` }, { labels: {}, value: s.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
