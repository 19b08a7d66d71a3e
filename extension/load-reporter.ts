// The environment's load, told to the router once a second (a LOAD frame on one channel of the
// instance), from which it learns how many requests to give this instance at once
// (core/dispatcher/concurrency.ts). What is cheap to measure here: the share of the interval this
// thread's event loop was busy (performance.eventLoopUtilization: for an in-process app, the
// app's own loop), CPU time over wall time (process.cpuUsage: the whole process), and the
// requests finished. Nothing is sent to a router that did not announce the `load` feature.

import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { LoadReport } from '../core/frames.ts';

export const LOAD_INTERVAL_MS = 1000;

export class LoadReporter {
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private cpu = process.cpuUsage();
  private at = performance.now();
  private requestsAt: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    /** Sends the report on some channel that takes it; false when none does (yet). */
    private readonly send: (load: LoadReport) => boolean,
    /** Requests finished so far. */
    private readonly requests: () => number,
    intervalMs = LOAD_INTERVAL_MS,
  ) {
    this.requestsAt = requests();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  /** The figures since the last report, sent; the window restarts only when one was sent. */
  tick(): void {
    const now = performance.now();
    const wallMs = now - this.at;
    if (wallMs <= 0) return;
    const elu = performance.eventLoopUtilization(this.elu);
    const cpu = process.cpuUsage(this.cpu);
    const requests = this.requests();
    const load: LoadReport = { elu: elu.utilization, cpu: (cpu.user + cpu.system) / 1000 / wallMs, requests: requests - this.requestsAt, intervalMs: wallMs };
    if (!this.send(load)) return;
    this.elu = performance.eventLoopUtilization();
    this.cpu = process.cpuUsage();
    this.at = now;
    this.requestsAt = requests;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
