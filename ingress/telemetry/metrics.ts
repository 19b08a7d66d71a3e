// The router's Prometheus metrics (prom-client), served at GET /metrics on the admin listener.
//
// Two sources, neither with a lock or a message on the request path:
// - per request, on the main thread when the request ends (`observe`): counts by method and
//   status class, and the latency histograms (hot-histogram.ts), fed by ingress's own record of
//   the request and the dispatcher's report that rode on its terminal record; plain additions,
//   copied into the exposition at scrape time;
// - everything else is state the dispatcher already keeps, read once per scrape from a status
//   snapshot (one message to the dispatcher thread) and copied into gauges and counters, never
//   counted twice.
// docs/ARCHITECTURE.md, "Observability", lists every name.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { NEVER } from '../../core/records.ts';
import type { RouterStatus } from '../admin.ts';
import { HotHistogram, type HistogramSnapshot } from './hot-histogram.ts';
import type { RequestRecord } from './request-record.ts';

/** Histogram buckets in seconds, 0.5 ms to 60 s (the function timeout's usual scale). */
export const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const PREFIX = 'lambda_dispatch_';
/** Methods get their own label value; anything else is 'other', so a client cannot grow the series. */
const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'other'] as const;
const METHOD_INDEX = new Map<string, number>(METHOD_LABELS.map((m, i) => [m, i]));
const OTHER_METHOD = METHOD_LABELS.length - 1;
const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export class RouterMetrics {
  readonly registry = new Registry();
  /** Requests by method (METHOD_LABELS index) × status class (STATUS_CLASSES index). */
  private readonly requests = new Float64Array(METHOD_LABELS.length * STATUS_CLASSES.length);
  private readonly duration: HotHistogram;
  private readonly queueWait: HotHistogram;
  private readonly firstByte: HotHistogram;
  private readonly upstream: HotHistogram;
  private bytesIn = 0;
  private bytesOut = 0;
  private aborts = 0;
  private readonly routerAnswers = new Map<string, number>();
  private readonly fromStatus: ((s: RouterStatus) => void)[] = [];

  constructor(o: { processMetrics?: boolean } = {}) {
    const r = this.registry;
    if (o.processMetrics ?? true) collectDefaultMetrics({ register: r });
    // The request path only adds to plain numbers; each scrape copies them into the exposition.
    const requests = this.requests;
    new Counter({
      name: `${PREFIX}requests_total`,
      help: 'Client requests ended, by method and status class (none: the client got no response head)',
      labelNames: ['method', 'status_class'],
      registers: [r],
      collect() {
        this.reset();
        METHOD_LABELS.forEach((method, m) => STATUS_CLASSES.forEach((cls, c) => this.labels(method, cls).inc(requests[m * STATUS_CLASSES.length + c]!)));
      },
    });
    const histogram = (name: string, help: string) => new HotHistogram(`${PREFIX}${name}`, help, SECONDS_BUCKETS, r);
    this.duration = histogram('request_duration_seconds', 'From the request head arriving to the response ending, as the client saw it');
    this.queueWait = histogram('queue_wait_seconds', 'Time a request waited for a free channel');
    this.firstByte = histogram('upstream_first_byte_seconds', "From the request reaching its channel to the app's response head");
    this.upstream = histogram('upstream_duration_seconds', "From the request reaching its channel to the app's response end: the app's time plus the channel's round trip");
    const self = this;
    new Counter({
      name: `${PREFIX}body_bytes_total`,
      help: 'Body bytes read from clients (in) and written to them (out)',
      labelNames: ['direction'],
      registers: [r],
      collect() {
        this.reset();
        this.labels('in').inc(self.bytesIn);
        this.labels('out').inc(self.bytesOut);
      },
    });
    new Counter({
      name: `${PREFIX}client_aborts_total`,
      help: 'Requests whose client went away before the response ended',
      registers: [r],
      collect() {
        this.reset();
        this.inc(self.aborts);
      },
    });
    new Counter({
      name: `${PREFIX}router_responses_total`,
      help: "Responses the router made in the function's place, by error code (docs/ARCHITECTURE.md: the router's own answers)",
      labelNames: ['code'],
      registers: [r],
      collect() {
        this.reset();
        for (const [code, n] of self.routerAnswers) this.labels(code).inc(n);
      },
    });
    this.stateMetrics();
  }

  /** One ended request: the request path's whole cost of metrics, a few additions. */
  observe(r: RequestRecord): void {
    const m = METHOD_INDEX.get(r.method) ?? OTHER_METHOD;
    const c = r.status === 0 ? 0 : Math.min(5, Math.floor(r.status / 100));
    this.requests[m * STATUS_CLASSES.length + c]!++;
    this.duration.observe(r.durationMs / 1000);
    this.bytesIn += r.bytesIn;
    this.bytesOut += r.bytesOut;
    if (r.aborted) this.aborts++;
    if (r.routerError !== null) this.routerAnswers.set(r.routerError, (this.routerAnswers.get(r.routerError) ?? 0) + 1);
    const rep = r.report;
    if (rep === null) return;
    this.queueWait.observe(rep.queueUs / 1e6);
    if (rep.firstByteUs !== NEVER) this.firstByte.observe(rep.firstByteUs / 1e6);
    if (rep.upstreamUs !== NEVER) this.upstream.observe(rep.upstreamUs / 1e6);
  }

  /** The Prometheus text exposition, with the state metrics read from `status` now. */
  async render(status: RouterStatus): Promise<string> {
    for (const apply of this.fromStatus) apply(status);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The request histogram's cumulative bucket counts (the dashboard's percentiles come from these). */
  async durationBuckets(): Promise<HistogramSnapshot> {
    return this.duration.snapshot();
  }

  // ── metrics read from the status snapshot at scrape time ──────────────────────────────────

  private stateMetrics(): void {
    const r = this.registry;
    const gauge = <L extends string>(name: string, help: string, labelNames: L[], set: (g: Gauge<L>, s: RouterStatus) => void) => {
      const g = new Gauge<L>({ name: `${PREFIX}${name}`, help, labelNames, registers: [r] });
      this.fromStatus.push((s) => {
        g.reset();
        set(g, s);
      });
    };
    // A total kept by the dispatcher: the counter takes its value (reset, then the total), so a
    // restart of the router reads as a counter reset, as Prometheus expects.
    const total = <L extends string>(name: string, help: string, labelNames: L[], set: (c: Counter<L>, s: RouterStatus) => void) => {
      const c = new Counter<L>({ name: `${PREFIX}${name}`, help, labelNames, registers: [r] });
      this.fromStatus.push((s) => {
        c.reset();
        set(c, s);
      });
    };
    const each = <K extends string>(o: Record<K, number>, f: (k: K, v: number) => void) => {
      for (const k of Object.keys(o) as K[]) f(k, o[k]);
    };

    gauge('in_flight', 'Requests being served by an instance now', [], (g, s) => g.set(s.inFlight));
    gauge('sockets', 'Upgraded connections (WebSockets) relayed now, each holding a channel', [], (g, s) => g.set(s.sockets));
    gauge('waiting', 'Requests waiting for a free channel now (queued, or held for a retry verdict)', [], (g, s) => g.set(s.pending));
    gauge('active_client_requests', 'Client requests between their head and their response end (ingress)', [], (g, s) => g.set(s.ingress.activeRequests));
    gauge('client_connections', 'Open client connections', [], (g, s) => g.set(s.ingress.connections));
    gauge('draining', '1 while the router drains (SIGTERM)', [], (g, s) => g.set(s.ingress.draining ? 1 : 0));
    gauge('channels', 'Channels open, and busy with a request', ['state'], (g, s) => {
      g.labels('open').set(s.channels.open);
      g.labels('busy').set(s.channels.busy);
    });
    gauge('instances', 'Lambda instances by state', ['state'], (g, s) => each(s.instances, (k, v) => g.labels(k).set(v)));
    gauge('instance_concurrency_limit', "Each open instance's learned limit of requests at once (MinConcurrentCount … MaxConcurrentCount)", ['instance'], (g, s) => {
      for (const c of s.concurrency) g.labels(c.instance).set(c.limit);
    });
    gauge('instance_event_loop_utilization', "Each open instance's event-loop utilisation in its last load report (0-1)", ['instance'], (g, s) => {
      for (const c of s.concurrency) if (c.elu !== null) g.labels(c.instance).set(c.elu);
    });
    gauge('desired_instances', "The scaler's target instance count", [], (g, s) => g.set(s.desired));
    gauge('scaler_demand', 'What the scaler decided on: requests in flight plus waiting, averaged over about a second', [], (g, s) => g.set(s.lastDecision.demand));
    gauge('scaler_capacity', 'Requests at once the instances it counted serve (open ones at their learned limits, starting ones to come)', [], (g, s) => g.set(s.lastDecision.capacity));
    gauge('container_workers', 'Container workers connected', [], (g, s) => g.set(s.workers.connected));
    gauge('container_worker_requests', 'Requests being served by container workers now', [], (g, s) => g.set(s.workers.busy));
    gauge('invoke_consecutive_failures', 'Invoke failures in a row (the backoff of the next start grows with it; 0: healthy)', [], (g, s) => g.set(s.invokes.consecutiveFailures));
    total('invokes_total', 'Invokes started', [], (c, s) => c.inc(s.invokes.started));
    total('invoke_failures_total', 'Invokes that failed, by kind', ['kind'], (c, s) => each(s.invokes.failuresByKind, (k, v) => c.labels(k).inc(v)));
    total('cold_starts_total', 'Instances whose environment reported a cold start', [], (c, s) => c.inc(s.coldStarts));
    total('scaler_decisions_total', 'Scaling decisions: scale-out, scale-in, or a rule that held the count against the demand', ['decision'], (c, s) =>
      each(s.decisions, (k, v) => c.labels(k).inc(v)),
    );
    total('request_outcomes_total', "Requests by how the dispatcher ended them (served, failed, timedOut, rejected, aborted; retried and notRetried: lost with their instance)", ['outcome'], (c, s) =>
      each(s.requests, (k, v) => c.labels(k).inc(v)),
    );
    total('retries_total', 'Requests sent again after their instance was lost', [], (c, s) => c.inc(s.requests.retried));
    total('framing_violations_total', 'Responses stopped because the app broke HTTP framing, by kind', ['kind'], (c, s) => each(s.framingViolations, (k, v) => c.labels(k).inc(v)));
    total('abort_timeouts_total', "Channels closed because the peer never confirmed a client's abort", [], (c, s) => c.inc(s.channels.abortTimeouts));
    total('window_stalls_total', 'Times a request body (request) or a response body (response) filled its flow-control window', ['direction'], (c, s) => {
      c.labels('request').inc(s.ingress.stalls.requestWindow);
      c.labels('response').inc(s.stalls.responseWindow);
    });
    total('ring_full_total', 'Times a ring between the two threads was full and records waited', ['ring'], (c, s) => {
      c.labels('request').inc(s.ingress.stalls.requestRingFull);
      c.labels('response').inc(s.stalls.responseRingFull);
    });
    gauge('ring_used_bytes', 'Bytes written to a ring and not yet read', ['ring'], (g, s) => {
      g.labels('request').set(s.ingress.requestRing.usedBytes);
      g.labels('response').set(s.responseRing.usedBytes);
    });
    gauge('ring_size_bytes', "A ring's capacity", ['ring'], (g, s) => {
      g.labels('request').set(s.ingress.requestRing.sizeBytes);
      g.labels('response').set(s.responseRing.sizeBytes);
    });
    // Several functions behind the router: each one's own figures, labelled with its name (the
    // series above are their sums). Absent with one function, whose figures those are.
    const perFunction = (s: RouterStatus) => s.functions ?? [];
    gauge('function_in_flight', 'Requests being served by an instance now, per function', ['function'], (g, s) => {
      for (const f of perFunction(s)) g.labels(f.name).set(f.status.inFlight);
    });
    gauge('function_waiting', 'Requests waiting for a free channel now, per function', ['function'], (g, s) => {
      for (const f of perFunction(s)) g.labels(f.name).set(f.status.pending);
    });
    gauge('function_instances', 'Lambda instances by state, per function', ['function', 'state'], (g, s) => {
      for (const f of perFunction(s)) each(f.status.instances, (k, v) => g.labels(f.name, k).set(v));
    });
    gauge('function_desired_instances', "The scaler's target instance count, per function", ['function'], (g, s) => {
      for (const f of perFunction(s)) g.labels(f.name).set(f.status.desired);
    });
    gauge('function_container_workers', 'Container workers connected, per function', ['function'], (g, s) => {
      for (const f of perFunction(s)) g.labels(f.name).set(f.status.workers.connected);
    });
    total('function_invokes_total', 'Invokes started, per function', ['function'], (c, s) => {
      for (const f of perFunction(s)) c.labels(f.name).inc(f.status.invokes.started);
    });
    total('function_request_outcomes_total', 'Requests by how the dispatcher ended them, per function', ['function', 'outcome'], (c, s) => {
      for (const f of perFunction(s)) each(f.status.requests, (k, v) => c.labels(f.name, k).inc(v));
    });
    gauge('thread_heap_used_bytes', "Each thread's V8 heap in use", ['thread'], (g, s) => {
      g.labels('ingress').set(s.ingress.memory.byThread.ingress.heapUsedBytes);
      const d = s.ingress.memory.byThread.dispatcher;
      if (d !== null) g.labels('dispatcher').set(d.heapUsedBytes);
    });
    gauge('thread_event_loop_delay_seconds', "Each thread's event-loop delay over the last 10 s window, by quantile (1: the max)", ['thread', 'quantile'], (g, s) => {
      for (const [thread, w] of Object.entries(s.ingress.eventLoop)) {
        if (w === null) continue;
        g.labels(thread, '0.5').set(w.delayP50Ms / 1000);
        g.labels(thread, '0.99').set(w.delayP99Ms / 1000);
        g.labels(thread, '1').set(w.delayMaxMs / 1000);
      }
    });
    gauge('thread_event_loop_utilization', "Share of the last 10 s each thread's event loop was busy (0-1)", ['thread'], (g, s) => {
      for (const [thread, w] of Object.entries(s.ingress.eventLoop)) if (w !== null) g.labels(thread).set(w.utilization);
    });
  }
}
