// burst: the comparison that motivates the product. Cold start LOCAL_LAMBDA_INIT_MS (default
// 2000 ms), 50 ms requests, 10 clients (closed loop) until the function is warm, then 100 clients.
// Through the router, and through the local Lambda's direct mode (a Function URL: one invocation
// per request, a new environment with its cold start when none is idle), one after the other on
// the same plan, each with its own local Lambda (own environments, own ledger).

import type { LedgerSnapshot } from '../../infra/local/ledger.ts';
import { startDirectLambda } from '../../infra/local/direct.ts';
import { costPerMillion, fargateEstimate, type CostPerMillion, type FargateEstimate } from '../cost.ts';
import type { LatencySummary, TimelineSecond } from '../hist.ts';
import type { LoadResult } from '../loadgen.ts';
import { runLoadgen, startRouterProcess } from '../procs.ts';
import { FUNCTION_NAME, FUNCTION_TIMEOUT_S, ROUTER_ENV, routerLambda, sleep, waitRouter, type Ctx } from './common.ts';

export interface BurstTarget {
  /** The 100-client phase. */
  latency: LatencySummary;
  /** The 10-client warm phase before it. */
  warm: LatencySummary;
  requests: number;
  burstRequests: number;
  errors: number;
  errorKinds: Record<string, number>;
  /** Burst-phase requests whose latency was at least one cold start. */
  coldWaits: number;
  coldWaitShare: number;
  rps: number;
  environments: number;
  ledger: LedgerSnapshot;
  cost: CostPerMillion;
  timeline: TimelineSecond[];
  loadgenCpuMs: number;
}

export interface BurstResult {
  initMs: number;
  delayMs: number;
  warmClients: number;
  burstClients: number;
  warmMs: number;
  burstMs: number;
  concurrencyLimit: number;
  memoryMb: number;
  router: BurstTarget & {
    invokes: number;
    /** Including the scale-in after the load (instances kept until the scaler lets them go), when measured. */
    afterScaleIn?: { waitedMs: number; ledger: LedgerSnapshot; cost: CostPerMillion };
    fargate: FargateEstimate;
  };
  direct: BurstTarget & {
    /**
     * A lower bound on what Lambda would bill the direct run: every request at the app's own
     * duration and every cold start at exactly the configured init. Here environments start on the
     * same two cores, so measured cold starts (billed, since 2025) run longer than on Lambda.
     */
    floor: { gbSeconds: number; cost: CostPerMillion };
  };
  /** For the chart: per request, send time (s) and latency (ms), successes only. */
  points: { router: { t: number[]; ms: number[] }; direct: { t: number[]; ms: number[] } };
}

function envInt(name: string, dflt: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0 || v > 10_000) throw new Error(`${name} must be an integer in 0..10000, got "${raw}"`);
  return v;
}

function target(res: LoadResult, ledger: LedgerSnapshot, initMs: number, warmMs: number, invocations = ledger.invocations): BurstTarget {
  const [warm, burst] = res.phases as [LoadResult['phases'][0], LoadResult['phases'][0]];
  const pts = res.points!;
  let coldWaits = 0;
  for (let i = 0; i < pts.t.length; i++) if (pts.t[i]! >= warmMs && pts.ok[i] === 1 && pts.ms[i]! >= initMs) coldWaits++;
  const requests = warm.ok + burst.ok;
  const errorKinds: Record<string, number> = {};
  for (const p of res.phases) for (const [k, v] of Object.entries(p.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  return {
    latency: burst.latency,
    warm: warm.latency,
    requests,
    burstRequests: burst.ok + burst.errors,
    errors: warm.errors + burst.errors,
    errorKinds,
    coldWaits,
    coldWaitShare: burst.ok + burst.errors > 0 ? coldWaits / (burst.ok + burst.errors) : 0,
    rps: burst.rps,
    environments: ledger.environmentsCreated,
    ledger,
    cost: costPerMillion({ invocations, gbSeconds: ledger.gbSeconds, requests }),
    timeline: res.timeline,
    loadgenCpuMs: res.loadgenCpuMs,
  };
}

function okPoints(res: LoadResult): { t: number[]; ms: number[] } {
  const p = res.points!;
  const t: number[] = [];
  const ms: number[] = [];
  for (let i = 0; i < p.t.length; i++) {
    if (p.ok[i] !== 1) continue;
    t.push(Math.round(p.t[i]!) / 1000);
    ms.push(p.ms[i]!);
  }
  return { t, ms };
}

export async function runBurst(ctx: Ctx): Promise<BurstResult> {
  const initMs = envInt('LOCAL_LAMBDA_INIT_MS', 2000);
  const delayMs = 50;
  const warmClients = 10;
  const burstClients = 100;
  const warmMs = ctx.quick ? 5000 : 10_000;
  const burstMs = ctx.quick ? 8000 : 20_000;
  const concurrencyLimit = 200;
  const memoryMb = 512;
  const plan = {
    kind: 'closed' as const,
    path: `/delay?ms=${delayMs}`,
    timeoutMs: 60_000,
    points: true,
    phases: [
      { name: 'warm', concurrency: warmClients, durationMs: warmMs, record: false },
      { name: 'burst', concurrency: burstClients, durationMs: burstMs, record: true },
    ],
  };
  const lambdaOpts = { concurrency: concurrencyLimit, initMs, memoryMb, timeoutS: FUNCTION_TIMEOUT_S };

  // Through the router.
  ctx.log(`burst: router (cold start ${initMs} ms, ${warmClients} → ${burstClients} clients)`);
  const lambda = await routerLambda(ctx, lambdaOpts);
  const router = await startRouterProcess(lambda.url, ROUTER_ENV);
  let routerRes: LoadResult;
  let routerLedger: LedgerSnapshot;
  let invokes = 0;
  let afterScaleIn: BurstResult['router']['afterScaleIn'];
  try {
    routerRes = await runLoadgen({ ...plan, url: router.url });
    // What the instances have cost so far, the running ones charged up to now.
    routerLedger = lambda.ledger({ includeRunning: true });
    invokes = (await router.status()).invokes.started;
    if (!ctx.quick) {
      // And what they cost once the scaler has let them go (MinInstances 0, default intervals).
      const t0 = Date.now();
      const idle = await waitRouter(router, (s) => s.instances.starting + s.instances.open + s.instances.draining + s.instances.closing === 0, 90_000);
      await sleep(200);
      const ledger = lambda.ledger({ includeRunning: true });
      const requests = routerRes.phases.reduce((n, p) => n + p.ok, 0);
      if (idle) afterScaleIn = { waitedMs: Date.now() - t0, ledger, cost: costPerMillion({ invocations: Math.max(invokes, ledger.invocations), gbSeconds: ledger.gbSeconds, requests }) };
    }
  } finally {
    await router.stop();
    await lambda.close();
  }
  // Invocations still running are in the ledger's GB-seconds but not yet in its count.
  const routerTarget = target(routerRes, routerLedger, initMs, warmMs, Math.max(invokes, routerLedger.invocations));
  ctx.log(`burst router: p50 ${routerTarget.latency.p50} p99 ${routerTarget.latency.p99} ms, ${routerTarget.coldWaits} cold waits, ${routerTarget.environments} environments`);

  // Direct: Lambda's own dispatch behind a Function URL.
  ctx.log('burst: direct Lambda');
  const direct = await startDirectLambda({ functionName: FUNCTION_NAME, handlerModule: ctx.functions.direct, ...lambdaOpts });
  let directRes: LoadResult;
  let directLedger: LedgerSnapshot;
  try {
    directRes = await runLoadgen({ ...plan, url: direct.url });
    directLedger = direct.ledger();
  } finally {
    await direct.close();
  }
  const directTarget = target(directRes, directLedger, initMs, warmMs);
  const floorGbS = ((directLedger.invocations * delayMs + directLedger.coldStarts * initMs) / 1000) * (memoryMb / 1024);
  const floor = { gbSeconds: floorGbS, cost: costPerMillion({ invocations: directLedger.invocations, gbSeconds: floorGbS, requests: directTarget.requests }) };
  ctx.log(`burst direct: p50 ${directTarget.latency.p50} p99 ${directTarget.latency.p99} ms, ${directTarget.coldWaits} cold waits, ${directTarget.environments} environments`);

  return {
    initMs,
    delayMs,
    warmClients,
    burstClients,
    warmMs,
    burstMs,
    concurrencyLimit,
    memoryMb,
    router: { ...routerTarget, invokes, ...(afterScaleIn ? { afterScaleIn } : {}), fargate: fargateEstimate(routerTarget.rps) },
    direct: { ...directTarget, floor },
    points: { router: okPoints(routerRes), direct: okPoints(directRes) },
  };
}
