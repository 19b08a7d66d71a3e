// The load generator: a process of its own (never the router's), started by bench/run.ts with
// `fork`, given one plan over IPC and answering one result over IPC.
//
//   open    fixed arrival rate per phase; latency counts from each request's *intended* send time,
//           so a stalled server (or a stalled client) cannot hide its queueing (coordinated omission)
//   closed  a fixed number of clients per phase, each sending its next request when the last ends
//   stream  one large POST /echo: MB/s both ways, the echo checked byte for byte

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { encodeHistogram, newHistogram, recordMs, summarize, Timeline, type Histogram, type LatencySummary, type TimelineSecond } from './hist.ts';
import {
  closedSchedule,
  dueBy,
  intendedTime,
  openSchedule,
  phaseAt,
  totalRequests,
  type ConcurrencyPhase,
  type RatePhase,
} from './schedule.ts';

export interface RequestTarget {
  /** Base URL, e.g. http://127.0.0.1:5001 */
  url: string;
  /** Path and query, e.g. /delay?ms=50 */
  path: string;
  /** A request not answered in this long counts as an error ('timeout'). */
  timeoutMs: number;
  /** Return every request's send time and latency (for charts). */
  points?: boolean;
}

export type Plan =
  | (RequestTarget & { kind: 'open'; phases: RatePhase[]; maxSockets?: number })
  | (RequestTarget & { kind: 'closed'; phases: ConcurrencyPhase[] })
  | { kind: 'stream'; url: string; path: string; bytes: number; chunkBytes: number; timeoutMs: number };

export interface PhaseResult {
  name: string;
  record: boolean;
  durationMs: number;
  sent: number;
  ok: number;
  errors: number;
  /** By HTTP status or error code. */
  errorKinds: Record<string, number>;
  /** Answered (2xx) requests per second over the phase. */
  rps: number;
  /** Latency of answered requests (open loop: from the intended send time). */
  latency: LatencySummary;
  histogram: string;
  /** Open loop only: from the actual send time, i.e. without the coordinated-omission correction. */
  service?: LatencySummary;
}

export interface LoadResult {
  kind: 'open' | 'closed';
  phases: PhaseResult[];
  timeline: TimelineSecond[];
  /** Per request, when points were asked for: send time (ms from start), latency (ms), 1 = ok. */
  points?: { t: number[]; ms: number[]; ok: number[] };
  /** Open loop: the most the generator fell behind its schedule (ms); large values mean it was starved. */
  maxLagMs: number;
  loadgenCpuMs: number;
  elapsedMs: number;
}

export interface StreamResult {
  kind: 'stream';
  bytes: number;
  received: number;
  ms: number;
  /** MB (2^20 bytes) per second of request body; the echo streams back at the same time. */
  mbPerS: number;
  verified: boolean;
  error?: string;
  loadgenCpuMs: number;
}

interface Outcome {
  ok: boolean;
  kind: string;
}

function send(agent: http.Agent, url: URL, path: string, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: Outcome) => {
      if (!done) {
        done = true;
        resolve(o);
      }
    };
    const req = http.request({ host: url.hostname, port: url.port, path, method: 'GET', agent }, (res) => {
      const status = res.statusCode ?? 0;
      res.on('data', () => {});
      res.on('end', () => finish({ ok: status >= 200 && status < 300, kind: String(status) }));
      res.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, kind: e.code ?? 'response-error' }));
    });
    req.setTimeout(timeoutMs, () => {
      finish({ ok: false, kind: 'timeout' });
      req.destroy();
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, kind: e.code ?? 'error' }));
    req.end();
  });
}

class PhaseStats {
  readonly h: Histogram = newHistogram();
  readonly service: Histogram = newHistogram();
  sent = 0;
  ok = 0;
  errors = 0;
  readonly errorKinds: Record<string, number> = {};

  result(name: string, record: boolean, durationMs: number, withService: boolean): PhaseResult {
    const out: PhaseResult = {
      name,
      record,
      durationMs,
      sent: this.sent,
      ok: this.ok,
      errors: this.errors,
      errorKinds: this.errorKinds,
      rps: durationMs > 0 ? (this.ok * 1000) / durationMs : 0,
      latency: summarize(this.h),
      histogram: encodeHistogram(this.h),
      ...(withService ? { service: summarize(this.service) } : {}),
    };
    this.h.destroy();
    this.service.destroy();
    return out;
  }
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
}

export async function runOpen(plan: Extract<Plan, { kind: 'open' }>): Promise<LoadResult> {
  const url = new URL(plan.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: plan.maxSockets ?? 4096 });
  const schedule = openSchedule(plan.phases);
  const total = totalRequests(schedule);
  const stats = plan.phases.map(() => new PhaseStats());
  const timeline = new Timeline();
  const points = plan.points ? { t: [] as number[], ms: [] as number[], ok: [] as number[] } : undefined;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  let phase = 0;
  let inFlight = 0;
  let maxLagMs = 0;
  let allSent!: () => void;
  const finished = new Promise<void>((r) => (allSent = r));

  const fire = (i: number, p: number) => {
    const intended = intendedTime(schedule, plan.phases, i);
    const sentAt = performance.now();
    maxLagMs = Math.max(maxLagMs, sentAt - start - intended);
    const s = stats[p]!;
    s.sent++;
    inFlight++;
    void send(agent, url, plan.path, plan.timeoutMs).then((o) => {
      const end = performance.now();
      const latency = end - start - intended;
      if (o.ok) {
        s.ok++;
        recordMs(s.h, latency);
        recordMs(s.service, end - sentAt);
      } else {
        s.errors++;
        s.errorKinds[o.kind] = (s.errorKinds[o.kind] ?? 0) + 1;
      }
      timeline.record(intended, latency, o.ok);
      if (points) {
        points.t.push(Math.round(intended * 10) / 10);
        points.ms.push(Math.round(latency * 100) / 100);
        points.ok.push(o.ok ? 1 : 0);
      }
      if (--inFlight === 0 && next >= total) allSent();
    });
  };

  const tick = () => {
    const due = Math.min(total, dueBy(schedule, plan.phases, performance.now() - start));
    while (next < due) {
      while (next >= schedule[phase]!.first + schedule[phase]!.count) phase++;
      fire(next++, phase);
    }
    if (next >= total) {
      if (inFlight === 0) allSent();
      return;
    }
    const wait = intendedTime(schedule, plan.phases, next) - (performance.now() - start);
    if (wait <= 1) setImmediate(tick);
    else setTimeout(tick, wait - 1);
  };
  tick();
  await finished;
  agent.destroy();
  const elapsedMs = performance.now() - start;
  const phases = plan.phases.map((p, i) => stats[i]!.result(p.name, p.record, p.durationMs, true));
  const result: LoadResult = { kind: 'open', phases, timeline: timeline.seconds(), maxLagMs, loadgenCpuMs: cpuMs(cpu0), elapsedMs };
  if (points) result.points = points;
  timeline.destroy();
  return result;
}

export async function runClosed(plan: Extract<Plan, { kind: 'closed' }>): Promise<LoadResult> {
  const url = new URL(plan.url);
  const maxClients = Math.max(...plan.phases.map((p) => p.concurrency));
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxClients });
  const schedule = closedSchedule(plan.phases);
  const stats = plan.phases.map(() => new PhaseStats());
  const timeline = new Timeline();
  const points = plan.points ? { t: [] as number[], ms: [] as number[], ok: [] as number[] } : undefined;
  const cpu0 = process.cpuUsage();
  const start = performance.now();

  const client = async (j: number) => {
    for (;;) {
      const el = performance.now() - start;
      const p = phaseAt(schedule, el);
      if (p < 0) return;
      if (j >= plan.phases[p]!.concurrency) {
        await new Promise((r) => setTimeout(r, Math.max(1, schedule[p]!.endMs - el)));
        continue;
      }
      const s = stats[p]!;
      s.sent++;
      const t0 = performance.now();
      const o = await send(agent, url, plan.path, plan.timeoutMs);
      const latency = performance.now() - t0;
      if (o.ok) {
        s.ok++;
        recordMs(s.h, latency);
      } else {
        s.errors++;
        s.errorKinds[o.kind] = (s.errorKinds[o.kind] ?? 0) + 1;
        // An error answered at once must not turn the client into a tight loop.
        if (latency < 1) await new Promise((r) => setTimeout(r, 1));
      }
      timeline.record(t0 - start, latency, o.ok);
      if (points) {
        points.t.push(Math.round((t0 - start) * 10) / 10);
        points.ms.push(Math.round(latency * 100) / 100);
        points.ok.push(o.ok ? 1 : 0);
      }
    }
  };
  await Promise.all(Array.from({ length: maxClients }, (_, j) => client(j)));
  agent.destroy();
  const elapsedMs = performance.now() - start;
  const phases = plan.phases.map((p, i) => stats[i]!.result(p.name, p.record, p.durationMs, false));
  const result: LoadResult = { kind: 'closed', phases, timeline: timeline.seconds(), maxLagMs: 0, loadgenCpuMs: cpuMs(cpu0), elapsedMs };
  if (points) result.points = points;
  timeline.destroy();
  return result;
}

/** POST `bytes` to /echo, a random 1 MiB block repeated; checks every echoed byte against it. */
export async function runStream(plan: Extract<Plan, { kind: 'stream' }>): Promise<StreamResult> {
  const block = randomBytes(1 << 20);
  const cpu0 = process.cpuUsage();
  const url = new URL(plan.path, plan.url);
  const start = performance.now();
  let received = 0;
  let verified = true;
  const error = await new Promise<string | undefined>((resolve) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': plan.bytes } }, (res) => {
      if (res.statusCode !== 200) verified = false;
      res.on('data', (c: Buffer) => {
        // The echo is the same block sequence: compare each chunk with the block where it falls.
        let off = 0;
        while (off < c.length) {
          const at = (received + off) % block.length;
          const n = Math.min(c.length - off, block.length - at);
          if (verified && c.compare(block, at, at + n, off, off + n) !== 0) verified = false;
          off += n;
        }
        received += c.length;
      });
      res.on('end', () => resolve(undefined));
      res.on('error', (e) => resolve(e.message));
    });
    req.setTimeout(plan.timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    let sent = 0;
    const pump = () => {
      while (sent < plan.bytes) {
        const at = sent % block.length;
        const n = Math.min(plan.chunkBytes, plan.bytes - sent, block.length - at);
        sent += n;
        const more = req.write(block.subarray(at, at + n));
        if (sent >= plan.bytes) break;
        if (!more) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  const ms = performance.now() - start;
  return {
    kind: 'stream',
    bytes: plan.bytes,
    received,
    ms,
    mbPerS: plan.bytes / 1048576 / (ms / 1000),
    verified: verified && received === plan.bytes && error === undefined,
    ...(error !== undefined ? { error } : {}),
    loadgenCpuMs: cpuMs(cpu0),
  };
}

export function runPlan(plan: Plan): Promise<LoadResult | StreamResult> {
  switch (plan.kind) {
    case 'open':
      return runOpen(plan);
    case 'closed':
      return runClosed(plan);
    case 'stream':
      return runStream(plan);
  }
}

// As a forked child: one plan in, one result out, then exit.
if (process.send !== undefined && process.argv.includes('--loadgen-child')) {
  process.once('message', (plan: Plan) => {
    runPlan(plan).then(
      (result) => process.send!({ ok: true, result }, () => process.exit(0)),
      (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1)),
    );
  });
}
