// Latency histograms (hdr-histogram-js, microsecond resolution, 3 significant digits), their
// summaries in milliseconds, and a per-second timeline of percentiles and errors.

import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

export type { Histogram } from 'hdr-histogram-js';

/** Values are recorded in microseconds; anything above 10 minutes is clamped to it. */
const MAX_US = 600_000_000;

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 3, autoResize: false });
}

export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.min(MAX_US, Math.max(1, Math.round(ms * 1000))));
}

export interface LatencySummary {
  count: number;
  /** All in milliseconds. */
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export const EMPTY_SUMMARY: LatencySummary = { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { ...EMPTY_SUMMARY };
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/** A histogram as text (compressed, base64) to cross a process boundary. */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(text: string): Histogram {
  return hdr.decodeFromCompressedBase64(text);
}

/** One histogram holding every value of the encoded ones. */
export function mergeEncoded(texts: readonly string[]): Histogram {
  const out = newHistogram();
  for (const t of texts) {
    const h = decodeHistogram(t);
    out.add(h);
    h.destroy();
  }
  return out;
}

/** The median of some numbers (the mean of the middle two for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface TimelineSecond {
  /** Second since the start of the plan, by the request's (intended) send time. */
  t: number;
  count: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Latency percentiles and errors per second of send time. */
export class Timeline {
  readonly #seconds = new Map<number, { h: Histogram; errors: number }>();

  record(sentAtMs: number, latencyMs: number, ok: boolean): void {
    const t = Math.max(0, Math.floor(sentAtMs / 1000));
    let s = this.#seconds.get(t);
    if (!s) this.#seconds.set(t, (s = { h: newHistogram(), errors: 0 }));
    if (ok) recordMs(s.h, latencyMs);
    else s.errors += 1;
  }

  seconds(): TimelineSecond[] {
    const out: TimelineSecond[] = [];
    for (const t of [...this.#seconds.keys()].sort((a, b) => a - b)) {
      const s = this.#seconds.get(t)!;
      const sum = summarize(s.h);
      out.push({ t, count: sum.count + s.errors, errors: s.errors, p50: sum.p50, p90: sum.p90, p99: sum.p99, max: sum.max });
    }
    return out;
  }

  destroy(): void {
    for (const s of this.#seconds.values()) s.h.destroy();
    this.#seconds.clear();
  }
}
