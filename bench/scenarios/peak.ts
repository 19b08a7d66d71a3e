// peak: closed-loop maximum requests per second on /ping through the router, through a plain Node
// reverse proxy (node:http forwarding to the demo app), through nginx when installed, and to the
// demo app with nothing in front (for reference), in rotating rounds within one run. `router` has
// its control channel over TLS (the default); `router-plain` is the same router with plain ws://,
// for what TLS costs per request.

import { mergeEncoded, median, summarize, type LatencySummary } from '../hist.ts';
import { nginxAvailable, processTreeCpuMs, runLoadgen, startDemoProcess, startNginx, startNodeProxy, startRouterProcess, type RouterProcess, type Service } from '../procs.ts';
import { ROUTER_ENV, routerLambda, rotation, type Ctx } from './common.ts';
import { PLAIN_CONTROL } from './stream.ts';

export interface PeakTarget {
  /** Median over rounds. */
  rps: number;
  rounds: number[];
  latency: LatencySummary;
  errors: number;
  loadgenCpuMs: number;
  /**
   * CPU time per answered request (µs) of each process involved, over the measured rounds:
   * `router` (both threads), `lambda` (the local Lambda: the extension and the app in its
   * environments), `proxy`, `nginx` (master and worker), `app` (demo/serve.ts), `loadgen`.
   */
  cpuUsPerRequest: Record<string, number>;
  /** Router targets: invokes started during the measured phases (0: the fleet had settled). */
  invokesWhileMeasured?: number;
}

export interface PeakResult {
  path: string;
  concurrency: number;
  roundMs: number;
  rounds: number;
  targets: Record<string, PeakTarget>;
  /** router rps ÷ node-proxy rps (default settings). */
  routerVsNodeProxy: number;
  /** router-32 rps ÷ node-proxy rps (MaxConcurrentCount 32, multiplier 1). */
  wideRouterVsNodeProxy?: number;
  notes: string[];
}

/** Router settings of the `router-32` target. */
export const WIDE_INSTANCES = {
  LAMBDA_DISPATCH_MaxConcurrentCount: '32',
  LAMBDA_DISPATCH_ChannelCount: '40',
  LAMBDA_DISPATCH_InstanceCountMultiplier: '1',
};

/**
 * Every router target keeps the instances the first round's lead-in scaled to: between its rounds
 * a target sits idle while the others run (about half a minute), which the default scale-in
 * would answer by releasing them, so that each round measured cold starts instead of the router.
 */
const SETTLED = { LAMBDA_DISPATCH_ScaleInIntervalMs: '600000', LAMBDA_DISPATCH_IdleReleaseMs: '600000' };

export async function runPeak(ctx: Ctx): Promise<PeakResult> {
  const path = '/ping';
  const concurrency = 64;
  const roundMs = ctx.quick ? 2000 : 5000;
  const rounds = ctx.quick ? 1 : ctx.repeats;
  const notes: string[] = [];
  const lambda = await routerLambda(ctx);
  const started: Service[] = [];
  try {
    const router = await startRouterProcess(lambda.url, { ...ROUTER_ENV, ...SETTLED });
    started.push(router);
    const demo = await startDemoProcess();
    started.push(demo);
    const proxy = await startNodeProxy(demo.url);
    started.push(proxy);
    // The same router with fewer, larger instances: on one machine every environment is a thread
    // on the same two cores, so a CPU-light app is served best by few instances (on AWS each
    // environment has its own CPU and the default is right).
    const wide = await startRouterProcess(lambda.url, { ...ROUTER_ENV, ...SETTLED, ...WIDE_INSTANCES });
    started.push(wide);
    const plain = await startRouterProcess(lambda.url, { ...ROUTER_ENV, ...SETTLED, ...PLAIN_CONTROL });
    started.push(plain);
    const routers: Record<string, RouterProcess> = { router, 'router-plain': plain, 'router-32': wide };
    const urls: Record<string, string> = { router: router.url, 'router-plain': plain.url, 'router-32': wide.url, 'node-proxy': proxy.url, direct: demo.url };
    // Whose CPU each target's requests use (the orchestrator hosts the local Lambda's environments).
    const pids: Record<string, Record<string, number>> = {
      router: { router: router.pid, lambda: process.pid },
      'router-plain': { router: plain.pid, lambda: process.pid },
      'router-32': { router: wide.pid, lambda: process.pid },
      'node-proxy': { proxy: proxy.pid, app: demo.pid },
      direct: { app: demo.pid },
      nginx: { app: demo.pid },
    };
    if (nginxAvailable()) {
      const nginx = await startNginx(demo.url);
      if (nginx) {
        started.push(nginx);
        urls.nginx = nginx.url;
        pids.nginx = { nginx: nginx.pid, app: demo.pid };
        notes.push('nginx: 1 worker process, upstream keep-alive');
      }
    } else notes.push('nginx not installed: skipped (apt-get install -y nginx to include it)');

    const names = Object.keys(urls);
    const perTarget: Record<string, { rps: number[]; hist: string[]; errors: number; cpu: number; ok: number; components: Record<string, number>; invokesWhileMeasured?: number }> = {};
    for (const n of names) perTarget[n] = { rps: [], hist: [], errors: 0, cpu: 0, ok: 0, components: {} };
    const cpuOf = (name: string): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [component, pid] of Object.entries(pids[name] ?? {})) {
        if (pid === process.pid) {
          const c = process.cpuUsage();
          out[component] = (c.user + c.system) / 1000;
        } else {
          const ms = processTreeCpuMs(pid);
          if (ms !== undefined) out[component] = ms;
        }
      }
      return out;
    };
    for (let r = 0; r < rounds; r++) {
      for (const name of rotation(names, r)) {
        // The first round's lead-in is where a router's fleet grows to the load; "invokes while measured" checks it did.
        const leadMs = r === 0 && name.startsWith('router') ? (ctx.quick ? 2000 : 6000) : 1000;
        // CPU is read around the whole run (lead-in included) and charged to the measured requests
        // scaled by the lead-in's share of time, which is close enough for a per-request figure.
        const cpu0 = cpuOf(name);
        // Invokes started while measuring: a round that scaled is not a settled one (checked, printed).
        const rp = routers[name];
        let invokesAtMeasure: Promise<number | undefined> = Promise.resolve(undefined);
        const timer = rp ? setTimeout(() => (invokesAtMeasure = rp.status().then((st) => st.invokes.started, () => undefined)), leadMs) : undefined;
        const res = await runLoadgen({
          kind: 'closed',
          url: urls[name]!,
          path,
          timeoutMs: 30_000,
          phases: [
            { name: 'lead-in', concurrency, durationMs: leadMs, record: false },
            { name: 'measure', concurrency, durationMs: roundMs, record: true },
          ],
        });
        const cpu1 = cpuOf(name);
        clearTimeout(timer);
        const m = res.phases[1]!;
        const t = perTarget[name]!;
        if (rp) {
          const before = await invokesAtMeasure;
          const after = await rp.status().then((st) => st.invokes.started, () => undefined);
          if (before !== undefined && after !== undefined) t.invokesWhileMeasured = (t.invokesWhileMeasured ?? 0) + (after - before);
        }
        const share = roundMs / (roundMs + leadMs);
        for (const [k, v] of Object.entries(cpu1)) t.components[k] = (t.components[k] ?? 0) + (v - (cpu0[k] ?? v)) * share;
        t.components.loadgen = (t.components.loadgen ?? 0) + res.loadgenCpuMs * share;
        t.ok += m.ok;
        t.rps.push(m.rps);
        t.hist.push(m.histogram);
        t.errors += m.errors;
        t.cpu += res.loadgenCpuMs;
        ctx.log(`peak ${name} round ${r + 1}: ${Math.round(m.rps)} req/s, p99 ${m.latency.p99} ms, ${m.errors} errors`);
      }
    }
    const targets: Record<string, PeakTarget> = {};
    for (const n of names) {
      const t = perTarget[n]!;
      const h = mergeEncoded(t.hist);
      const cpuUsPerRequest: Record<string, number> = {};
      for (const [k, v] of Object.entries(t.components)) cpuUsPerRequest[k] = t.ok > 0 ? Math.round((v * 1000) / t.ok) : 0;
      targets[n] = {
        rps: median(t.rps),
        rounds: t.rps,
        latency: summarize(h),
        errors: t.errors,
        loadgenCpuMs: t.cpu,
        cpuUsPerRequest,
        ...(t.invokesWhileMeasured !== undefined ? { invokesWhileMeasured: t.invokesWhileMeasured } : {}),
      };
      h.destroy();
    }
    const proxyRps = targets['node-proxy']!.rps;
    return { path, concurrency, roundMs, rounds, targets, routerVsNodeProxy: proxyRps > 0 ? targets.router!.rps / proxyRps : 0,
      wideRouterVsNodeProxy: proxyRps > 0 && targets['router-32'] ? targets['router-32'].rps / proxyRps : 0,
      notes: [...notes, 'router: control channel over TLS (the default); router-plain: LAMBDA_DISPATCH_ControlTls=false', 'every router target: LAMBDA_DISPATCH_ScaleInIntervalMs=600000 and IdleReleaseMs=600000, so the fleet the first lead-in scaled to is still there for later rounds', `router-32: the router with ${Object.entries(WIDE_INSTANCES).map(([k, v]) => `${k}=${v}`).join(', ')}`],
    };
  } finally {
    for (const s of started.reverse()) await s.stop();
    await lambda.close();
  }
}
