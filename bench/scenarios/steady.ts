// steady: a fixed arrival rate (open loop, latency from the intended send time) on /ping and on
// /delay?ms=50, through the router and to the same app served directly (demo/serve.ts, no router),
// in alternating rounds. The difference is the router's added latency.

import { mergeEncoded, summarize, type LatencySummary } from '../hist.ts';
import type { LoadResult } from '../loadgen.ts';
import { runLoadgen, startDemoProcess, startRouterProcess, type RouterProcess } from '../procs.ts';
import { ROUTER_ENV, routerLambda, rotation, type Ctx } from './common.ts';

export interface SteadyTarget {
  /** Merged over every round. */
  latency: LatencySummary;
  /** Without the coordinated-omission correction (from the actual send). */
  service: LatencySummary;
  rounds: LatencySummary[];
  sent: number;
  errors: number;
  errorKinds: Record<string, number>;
  achievedRps: number;
  maxLagMs: number;
}

export interface SteadyPath {
  path: string;
  direct: SteadyTarget;
  router: SteadyTarget;
  /** router − direct, ms. */
  added: { p50: number; p90: number; p99: number; p999: number };
  /** The router's worst round p99 ÷ its best (a run-to-run excursion shows here). */
  p99WorstOverBest: number;
  /**
   * The router's instances (open + starting) sampled every 500 ms of each measured round, and
   * what the load needed: ceil(requests in flight ÷ the instances' mean learned limit), in flight
   * by Little's law (rate × the router's median latency).
   */
  instances: { timeline: number[][]; atEnd: number[]; need: number; meanLimit: number };
}

export interface SteadyResult {
  rate: number;
  roundMs: number;
  rounds: number;
  paths: SteadyPath[];
  routerInstances: number;
}

type Name = 'direct' | 'router';

function combine(results: LoadResult[]): SteadyTarget {
  const measured = results.map((r) => r.phases.find((p) => p.record)!);
  const merged = mergeEncoded(measured.map((p) => p.histogram));
  const latency = summarize(merged);
  merged.destroy();
  const errorKinds: Record<string, number> = {};
  for (const p of measured) for (const [k, v] of Object.entries(p.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  // The service-time summary of the round with the median p99 stands for all (it is not merged).
  const byP99 = [...measured].sort((a, b) => a.latency.p99 - b.latency.p99);
  return {
    latency,
    service: byP99[byP99.length >> 1]!.service!,
    rounds: measured.map((p) => p.latency),
    sent: measured.reduce((n, p) => n + p.sent, 0),
    errors: measured.reduce((n, p) => n + p.errors, 0),
    errorKinds,
    achievedRps: measured.reduce((n, p) => n + p.rps, 0) / measured.length,
    maxLagMs: Math.max(...results.map((r) => r.maxLagMs)),
  };
}

export async function runSteady(ctx: Ctx): Promise<SteadyResult> {
  const rate = 1000;
  const roundMs = ctx.quick ? 2000 : 6000;
  const rounds = ctx.quick ? 1 : ctx.repeats;
  const lambda = await routerLambda(ctx);
  // The rotation leaves the router idle while the direct rounds run (7 s and more): a steady load has
  // no such gaps, and the default IdleReleaseMs would release the fleet in them, so that every round
  // began with cold starts. The instance count the load settles on is what is measured.
  const router = await startRouterProcess(lambda.url, { ...ROUTER_ENV, LAMBDA_DISPATCH_IdleReleaseMs: '600000', LAMBDA_DISPATCH_ScaleInIntervalMs: '600000' });
  const demo = await startDemoProcess();
  const urls: Record<Name, string> = { direct: demo.url, router: router.url };
  const paths: SteadyPath[] = [];
  let routerInstances = 0;
  try {
    for (const path of ['/ping', '/delay?ms=50']) {
      const results: Record<Name, LoadResult[]> = { direct: [], router: [] };
      const timelines: number[][] = [];
      let lastLimits: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const name of rotation<Name>(['direct', 'router'], r)) {
          if (r === 0) {
            // First a closed-loop warm-up with as many clients as the rate keeps busy: the router
            // scales to the load (an open loop at full rate onto zero instances would measure the
            // ramp's backlog, not the steady state).
            const clients = Math.max(16, Math.ceil((rate * (path.startsWith('/delay') ? 50 : 1)) / 1000));
            await runLoadgen({
              kind: 'closed',
              url: urls[name],
              path,
              timeoutMs: 30_000,
              phases: [{ name: 'warm', concurrency: clients, durationMs: ctx.quick ? 1500 : 3000, record: false }],
            });
          }
          // A lead-in at the same rate, not recorded: the generator's connections open.
          const leadMs = 1000;
          const sampling = name === 'router' ? sampleInstances(router, leadMs) : null;
          const res = await runLoadgen({
            kind: 'open',
            url: urls[name],
            path,
            timeoutMs: 30_000,
            phases: [
              { name: 'lead-in', rate, durationMs: leadMs, record: false },
              { name: 'measure', rate, durationMs: roundMs, record: true },
            ],
          });
          results[name].push(res);
          if (sampling !== null) {
            const { timeline, limits } = await sampling.stop();
            timelines.push(timeline);
            lastLimits = limits;
          }
          const m = res.phases[1]!;
          ctx.log(`steady ${path} ${name} round ${r + 1}: p50 ${m.latency.p50} p99 ${m.latency.p99} p99.9 ${m.latency.p999} ms, ${m.errors} errors`);
        }
      }
      const direct = combine(results.direct);
      const routed = combine(results.router);
      const d = (k: 'p50' | 'p90' | 'p99' | 'p999') => Math.round((routed.latency[k] - direct.latency[k]) * 1000) / 1000;
      const p99s = routed.rounds.map((l) => l.p99);
      const meanLimit = lastLimits.length > 0 ? lastLimits.reduce((a, b) => a + b, 0) / lastLimits.length : 10;
      const need = Math.max(1, Math.ceil((rate * routed.latency.p50) / 1000 / meanLimit));
      paths.push({
        path,
        direct,
        router: routed,
        added: { p50: d('p50'), p90: d('p90'), p99: d('p99'), p999: d('p999') },
        p99WorstOverBest: Math.round((Math.max(...p99s) / Math.max(0.001, Math.min(...p99s))) * 100) / 100,
        instances: { timeline: timelines, atEnd: timelines.map((t) => t.at(-1) ?? 0), need, meanLimit: Math.round(meanLimit * 10) / 10 },
      });
    }
    routerInstances = await router.status().then(
      (s) => s.instances.open,
      () => -1, // the router is gone: its requests show as errors above
    );
  } finally {
    await router.stop();
    await demo.stop();
    await lambda.close();
  }
  return { rate, roundMs, rounds, paths, routerInstances };
}

/** Polls the router's instance count every 500 ms from `afterMs` on, until stopped; then its learned limits. */
function sampleInstances(router: RouterProcess, afterMs: number): { stop(): Promise<{ timeline: number[]; limits: number[] }> } {
  const timeline: number[] = [];
  let stopped = false;
  const loop = (async () => {
    await new Promise((r) => setTimeout(r, afterMs));
    while (!stopped) {
      try {
        const s = await router.status();
        timeline.push(s.instances.open + s.instances.starting);
      } catch {
        timeline.push(-1);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const limits = await router.status().then((s) => s.concurrency.map((c) => c.limit), () => []);
      return { timeline, limits };
    },
  };
}
