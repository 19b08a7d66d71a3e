// concurrency: what the per-instance limits learn, against today's fixed 10. Two routers on one
// local Lambda, the default (learned between 1 and 32, starting at 10) and one fixed at 10
// (MinConcurrentCount = MaxConcurrentCount = 10), each given the same closed-loop load on a
// CPU-light route (/delay?ms=50, and /ping) and then on a CPU-heavy one (/cpu?ms=5: 5 ms of busy loop a request),
// each for long enough to learn (the limit moves once a second). Reported: the limits each
// instance ended with, the instance count, req/s and p99 of the last part of each run.

import { decodeHistogram, summarize, type LatencySummary } from '../hist.ts';
import { runLoadgen, startRouterProcess, type RouterProcess, type Service } from '../procs.ts';
import { ROUTER_ENV, routerLambda, type Ctx } from './common.ts';

export interface ConcurrencyRun {
  path: string;
  clients: number;
  router: 'learned' | 'fixed-10';
  rps: number;
  latency: LatencySummary;
  errors: number;
  instances: number;
  limits: number[];
}

export interface ConcurrencyResult {
  learnMs: number;
  measureMs: number;
  runs: ConcurrencyRun[];
}

const FIXED_10 = { LAMBDA_DISPATCH_MinConcurrentCount: '10', LAMBDA_DISPATCH_MaxConcurrentCount: '10', LAMBDA_DISPATCH_ChannelCount: '20' };
/**
 * /delay?ms=50: CPU-light (it waits, as on a database); /ping: light per request, but 64 clients
 * in a closed loop keep every core here busy; /cpu?ms=5: CPU-heavy.
 */
const ROUTES = [
  { path: '/delay?ms=50', clients: 64 },
  { path: '/ping', clients: 64 },
  { path: '/cpu?ms=5', clients: 24 },
];

export async function runConcurrency(ctx: Ctx): Promise<ConcurrencyResult> {
  const learnMs = ctx.quick ? 4000 : 12_000;
  const measureMs = ctx.quick ? 2000 : 5000;
  const runs: ConcurrencyRun[] = [];
  for (const route of ROUTES) {
    for (const router of ['learned', 'fixed-10'] as const) {
      // A fresh Lambda and router per run: each starts from nothing, as a new deployment would.
      const lambda = await routerLambda(ctx);
      const started: Service[] = [];
      try {
        const r: RouterProcess = await startRouterProcess(lambda.url, { ...ROUTER_ENV, ...(router === 'fixed-10' ? FIXED_10 : {}) });
        started.push(r);
        const res = await runLoadgen({
          kind: 'closed',
          url: r.url,
          path: route.path,
          timeoutMs: 30_000,
          phases: [
            { name: 'learn', concurrency: route.clients, durationMs: learnMs, record: false },
            { name: 'measure', concurrency: route.clients, durationMs: measureMs, record: true },
          ],
        });
        const s = await r.status();
        const m = res.phases[1]!;
        const h = decodeHistogram(m.histogram);
        const run: ConcurrencyRun = {
          path: route.path,
          clients: route.clients,
          router,
          rps: Math.round(m.rps),
          latency: summarize(h),
          errors: res.phases.reduce((n, p) => n + p.errors, 0),
          instances: s.instances.open + s.instances.starting,
          limits: s.concurrency.filter((c) => c.limit > 0).map((c) => c.limit).sort((a, b) => b - a),
        };
        h.destroy();
        runs.push(run);
        ctx.log(`concurrency ${route.path} ${router}: ${run.rps} req/s, p99 ${run.latency.p99} ms, ${run.instances} instances, limits ${run.limits.join(' ')}`);
      } finally {
        for (const s of started.reverse()) await s.stop();
        await lambda.close();
      }
    }
  }
  return { learnMs, measureMs, runs };
}
