// telemetry: what observability costs the router per request. Two routers on one local Lambda,
// the same but for LAMBDA_DISPATCH_RequestTelemetry (on: per-request metrics and the access log,
// the default; off: neither), measured in alternating rounds at the same open-loop rate, so that
// both handle the same traffic (the router's CPU per request depends on the rate: fewer records
// per wake-up at a lower one). Each router keeps a settled fleet (2 instances of 32, never scaled
// in), so no round measures a cold start. The access log goes to a pipe the bench drains, as the
// awslogs driver drains a container's stdout.

import { median } from '../hist.ts';
import { processCpuMs, runLoadgen, startRouterProcess, type Service } from '../procs.ts';
import { ROUTER_ENV, routerLambda, rotation, type Ctx } from './common.ts';

export interface TelemetryResult {
  rate: number;
  roundMs: number;
  rounds: number;
  /** Router CPU µs per request, each round, and the medians. */
  onUs: number[];
  offUs: number[];
  medianOnUs: number;
  medianOffUs: number;
  /** median on ÷ median off. */
  ratio: number;
  /** The largest relative difference between two rounds of the same router: what noise alone moves. */
  spread: number;
  errors: number;
}

const FLEET = {
  LAMBDA_DISPATCH_MaxConcurrentCount: '32',
  LAMBDA_DISPATCH_ChannelCount: '40',
  LAMBDA_DISPATCH_InstanceCountMultiplier: '1',
  LAMBDA_DISPATCH_MinInstances: '2',
  LAMBDA_DISPATCH_ScaleInIntervalMs: '600000',
  LAMBDA_DISPATCH_IdleReleaseMs: '600000',
};

export async function runTelemetry(ctx: Ctx): Promise<TelemetryResult> {
  const rate = 2000;
  const roundMs = ctx.quick ? 2000 : 4000;
  const rounds = ctx.quick ? 2 : Math.max(5, ctx.repeats * 2);
  const lambda = await routerLambda(ctx);
  const started: Service[] = [];
  try {
    const targets = {
      on: await startRouterProcess(lambda.url, { ...ROUTER_ENV, ...FLEET }),
      off: await startRouterProcess(lambda.url, { ...ROUTER_ENV, ...FLEET, LAMBDA_DISPATCH_RequestTelemetry: 'false' }),
    };
    started.push(targets.on, targets.off);
    // Warm-up: each fleet opens and its connections are made; not measured.
    for (const t of Object.values(targets)) {
      await runLoadgen({ kind: 'closed', url: t.url, path: '/ping', timeoutMs: 30_000, phases: [{ name: 'warm-up', concurrency: 32, durationMs: ctx.quick ? 2000 : 3000, record: false }] });
    }
    const us: Record<'on' | 'off', number[]> = { on: [], off: [] };
    let errors = 0;
    for (let r = 0; r < rounds; r++) {
      for (const name of rotation(['on', 'off'] as const, r)) {
        const t = targets[name];
        const cpu0 = processCpuMs(t.pid);
        const res = await runLoadgen({
          kind: 'open',
          url: t.url,
          path: '/ping',
          timeoutMs: 30_000,
          phases: [
            { name: 'lead-in', rate, durationMs: 300, record: false },
            { name: 'measure', rate, durationMs: roundMs, record: true },
          ],
        });
        const cpu1 = processCpuMs(t.pid);
        const ok = res.phases.reduce((n, p) => n + p.ok, 0);
        errors += res.phases.reduce((n, p) => n + p.errors, 0);
        if (cpu0 === undefined || cpu1 === undefined || ok === 0) throw new Error(`telemetry: no CPU reading or no request answered for ${name}`);
        us[name].push(Math.round(((cpu1 - cpu0) * 1000 * 10) / ok) / 10);
        ctx.log(`telemetry ${name} round ${r + 1}: ${Math.round(res.phases[1]!.rps)} req/s, router ${us[name].at(-1)} µs per request`);
      }
    }
    const medianOnUs = median(us.on);
    const medianOffUs = median(us.off);
    const spreadOf = (a: number[]) => (Math.max(...a) - Math.min(...a)) / median(a);
    return {
      rate,
      roundMs,
      rounds,
      onUs: us.on,
      offUs: us.off,
      medianOnUs,
      medianOffUs,
      ratio: medianOffUs > 0 ? medianOnUs / medianOffUs : 0,
      spread: Math.max(spreadOf(us.on), spreadOf(us.off)),
      errors,
    };
  } finally {
    for (const s of started.reverse()) await s.stop();
    await lambda.close();
  }
}
