// How busy and how late one thread's event loop is, over the last complete window (10 s by
// default): each of the router's two threads keeps one, and /metrics and the status page show
// both. A window rather than a running total, so that a stall shows while it matters and fades
// after; and one any number of readers can share (a scrape does not reset what another reads).

import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopWindow {
  /** Delay percentiles of timer callbacks behind their schedule, in ms (Node's own sampler). */
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  /** Share of the window the loop spent running callbacks rather than waiting (0–1). */
  utilization: number;
  windowMs: number;
}

export const EVENT_LOOP_WINDOW_MS = 10_000;

export class EventLoopStats {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private last: EventLoopWindow = { delayP50Ms: 0, delayP99Ms: 0, delayMaxMs: 0, utilization: 0, windowMs: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly windowMs = EVENT_LOOP_WINDOW_MS) {
    this.delay.enable();
    this.timer = setInterval(() => this.roll(), windowMs);
    this.timer.unref();
  }

  /** The last complete window (zeros before the first one ends). */
  get window(): EventLoopWindow {
    return this.last;
  }

  private roll(): void {
    const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
    const elu = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    this.last = {
      delayP50Ms: ms(this.delay.percentile(50)),
      delayP99Ms: ms(this.delay.percentile(99)),
      delayMaxMs: ms(this.delay.max),
      utilization: elu.utilization,
      windowMs: this.windowMs,
    };
    this.delay.reset();
  }

  stop(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }
}
