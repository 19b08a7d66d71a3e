// cost: CPU time (user + system, from /proc) per answered /ping of every process on the path —
// the router, a plain Node reverse proxy, nginx (one worker) as the floor, the demo app alone, and
// the Lambda side (the local Lambda's environments: extension + in-memory app) — at saturation
// (closed loop, 64 clients) and at an open-loop 1,000 req/s. Every router target has one process
// per load, warmed at that load first so that its fleet has settled; then rounds alternate the
// targets' order and each figure is the median over rounds. A round's CPU is read around the
// whole load-generator run and divided by every request it answered (lead-in included), so that
// no estimate of when the measured phase began enters the figure. Each router invokes a local
// Lambda process of its own, so that its Lambda side's CPU is not mixed with other fleets' pings.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, mergeEncoded, summarize, type LatencySummary } from '../hist.ts';
import type { LoadResult } from '../loadgen.ts';
import { nginxAvailable, processTreeCpuMs, runLoadgen, startDemoProcess, startLambdaProcess, startNginx, startNodeProxy, startRouterProcess, type Service } from '../procs.ts';
import { FUNCTION_NAME, FUNCTION_TIMEOUT_S, ROUTER_ENV, rotation, type Ctx } from './common.ts';

export type CostMode = 'saturation' | 'rate';

export interface CostTarget {
  /** Median over rounds of answered requests per second. */
  rps: number;
  latency: LatencySummary;
  errors: number;
  /** Median over rounds, µs per answered request, by process (`router`, `lambda`, `proxy`, `nginx`, `app`). */
  cpuUs: Record<string, number>;
  /** Every round's figure, for the spread. */
  roundsUs: Record<string, number[]>;
  /** Router targets: invokes started during the rounds (0: the fleet had settled). */
  invokesWhileMeasured?: number;
  /** Router targets: open instances after the last round. */
  instances?: number;
}

export interface CostResult {
  path: string;
  concurrency: number;
  rate: number;
  roundMs: number;
  rounds: number;
  modes: Record<CostMode, Record<string, CostTarget>>;
  notes: string[];
}

/** What a router target adds to the common settings: the dispatcher's mode, a CPU affinity. */
export interface RouterVariant {
  env: Record<string, string>;
  /** `taskset -c` list: `0` stands for a 1 vCPU task. */
  cpus?: string;
  /** Another checkout to run the router and the Lambda function from (LD_BENCH_BASELINE). */
  root?: string;
  /** Settings of its Lambda's environments (the extension's side of an A/B). */
  lambdaEnv?: Record<string, string>;
  /** Measured only when LD_BENCH_ROUTERS names it. */
  onRequest?: true;
}

export const ROUTER_VARIANTS: Record<string, RouterVariant> = {
  router: { env: {} },
  'router-main': { env: { LAMBDA_DISPATCH_DispatcherThread: 'main' } },
  'router-1cpu': { env: {}, cpus: '0' },
  'router-1cpu-worker': { env: { LAMBDA_DISPATCH_DispatcherThread: 'worker' }, cpus: '0' },
  // A/B only (LD_BENCH_ROUTERS names them): what TLS on the control channel, multiplexed channels
  // and the extension's access log change.
  'router-plain': { env: { LAMBDA_DISPATCH_ControlTls: 'false' }, onRequest: true },
  'router-unmuxed': { env: { LAMBDA_DISPATCH_Multiplex: 'false' }, onRequest: true },
  'router-extension-log': { env: {}, lambdaEnv: { LAMBDA_DISPATCH_AccessLogSample: '1' }, onRequest: true },
};

/**
 * The router targets of this run: LD_BENCH_ROUTERS (comma-separated names) narrows them, and
 * LD_BENCH_BASELINE=<checkout with node_modules> adds `baseline` (and `baseline-1cpu`): that
 * checkout's router and Lambda function (its extension, bundled by its own bench), measured side
 * by side with this one.
 */
export function routerVariants(env: NodeJS.ProcessEnv = process.env): Record<string, RouterVariant> {
  const all: Record<string, RouterVariant> = { ...ROUTER_VARIANTS };
  const base = env.LD_BENCH_BASELINE;
  if (base) {
    all.baseline = { env: {}, root: base };
    all['baseline-1cpu'] = { env: {}, cpus: '0', root: base };
  }
  const only = env.LD_BENCH_ROUTERS?.split(',').filter((n) => n !== '');
  if (!only || only.length === 0) return Object.fromEntries(Object.entries(all).filter(([, v]) => v.onRequest !== true));
  return Object.fromEntries(Object.entries(all).filter(([n]) => only.includes(n)));
}

/**
 * As in peak: fleets keep what their warm-up scaled to while other targets run. LD_BENCH_ROUTER_ENV
 * (JSON) adds settings to every router target, e.g. a fixed fleet for an A/B of two checkouts.
 */
const SETTLED = { LAMBDA_DISPATCH_ScaleInIntervalMs: '600000', LAMBDA_DISPATCH_IdleReleaseMs: '600000', ...(JSON.parse(process.env.LD_BENCH_ROUTER_ENV ?? '{}') as Record<string, string>) };

/** Another checkout's Lambda function, bundled by its own bench (so that a baseline is its router and its extension). */
async function checkoutFunction(root: string): Promise<string> {
  const mod = (await import(pathToFileURL(join(root, 'bench/functions.ts')).href)) as typeof import('../functions.ts');
  return (await mod.buildFunctions()).router;
}

function tasksetAvailable(): boolean {
  const r = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

export async function runCost(ctx: Ctx): Promise<CostResult> {
  const path = '/ping';
  const concurrency = 64;
  // LD_BENCH_COST_RATE: a machine too loaded to sustain 1,000 req/s through the router measures a queue instead.
  const rate = Number(process.env.LD_BENCH_COST_RATE ?? 1000);
  const roundMs = ctx.quick ? 2000 : 5000;
  const leadMs = 1000;
  const rounds = ctx.quick ? 1 : Math.max(3, ctx.repeats);
  const modes: CostMode[] = ['saturation', 'rate'];
  const notes: string[] = [];
  const started: Service[] = [];
  try {
    const demo = await startDemoProcess();
    started.push(demo);
    const proxy = await startNodeProxy(demo.url);
    started.push(proxy);
    const urls: Record<CostMode, Record<string, string>> = { saturation: {}, rate: {} };
    // Whose CPU each target's requests use.
    const pids: Record<string, Record<string, number>> = {};
    const lambdaPids: Record<CostMode, Record<string, number>> = { saturation: {}, rate: {} };
    const routerPids: Record<CostMode, Record<string, Awaited<ReturnType<typeof startRouterProcess>>>> = { saturation: {}, rate: {} };
    const affinity = tasksetAvailable();
    if (!affinity) notes.push('taskset not available: the 1 vCPU router targets are skipped');
    const variants = routerVariants();
    for (const [name, v] of Object.entries(variants)) {
      if (v.cpus !== undefined && !affinity) continue;
      for (const mode of modes) {
        const handler = v.root === undefined ? ctx.functions.router : await checkoutFunction(v.root);
        const lambda = await startLambdaProcess(handler, FUNCTION_NAME, 64, FUNCTION_TIMEOUT_S, v.lambdaEnv);
        started.push(lambda);
        lambdaPids[mode][name] = lambda.pid;
        const r = await startRouterProcess(lambda.url, { ...ROUTER_ENV, ...SETTLED, ...v.env }, v.cpus, v.root);
        started.push(r);
        urls[mode][name] = r.url;
        routerPids[mode][name] = r;
      }
    }
    for (const mode of modes) {
      urls[mode]['node-proxy'] = proxy.url;
      urls[mode].direct = demo.url;
    }
    if (nginxAvailable()) {
      const nginx = await startNginx(demo.url);
      if (nginx) {
        started.push(nginx);
        for (const mode of modes) urls[mode].nginx = nginx.url;
        pids.nginx = { nginx: nginx.pid, app: demo.pid };
        notes.push('nginx: 1 worker process, upstream keep-alive (its CPU: master and worker)');
      }
    } else notes.push('nginx not installed: skipped (apt-get install -y nginx to include it)');
    pids['node-proxy'] = { proxy: proxy.pid, app: demo.pid };
    pids.direct = { app: demo.pid };

    const cpuOf = (name: string, mode: CostMode): Record<string, number> => {
      const out: Record<string, number> = {};
      const rp = routerPids[mode][name];
      const who = rp ? { router: rp.pid, lambda: lambdaPids[mode][name]! } : (pids[name] ?? {});
      for (const [component, pid] of Object.entries(who)) {
        const ms = processTreeCpuMs(pid);
        if (ms !== undefined) out[component] = ms;
      }
      return out;
    };
    const plan = (mode: CostMode, url: string, lead: number, measure: number) =>
      mode === 'saturation'
        ? runLoadgen({ kind: 'closed', url, path, timeoutMs: 30_000, phases: [{ name: 'lead-in', concurrency, durationMs: lead, record: false }, { name: 'measure', concurrency, durationMs: measure, record: true }] })
        : runLoadgen({ kind: 'open', url, path, timeoutMs: 30_000, phases: [{ name: 'lead-in', rate, durationMs: lead, record: false }, { name: 'measure', rate, durationMs: measure, record: true }] });

    // Warm-up: each router's fleet grows to its load here, before anything is measured.
    for (const mode of modes) {
      for (const name of Object.keys(routerPids[mode])) {
        await plan(mode, urls[mode][name]!, ctx.quick ? 3000 : 8000, 500);
        ctx.log(`cost warm-up ${mode} ${name}: done`);
      }
    }

    const acc: Record<CostMode, Record<string, { rps: number[]; hist: string[]; errors: number; us: Record<string, number[]>; invokes?: number; instances?: number }>> = { saturation: {}, rate: {} };
    for (let r = 0; r < rounds; r++) {
      for (const mode of modes) {
        for (const name of rotation(Object.keys(urls[mode]), r)) {
          const rp = routerPids[mode][name];
          const inv0 = rp ? await rp.status().then((s) => s.invokes.started, () => undefined) : undefined;
          const cpu0 = cpuOf(name, mode);
          const res: LoadResult = await plan(mode, urls[mode][name]!, leadMs, roundMs);
          const cpu1 = cpuOf(name, mode);
          const st1 = rp ? await rp.status().catch(() => undefined) : undefined;
          const inv1 = st1?.invokes.started;
          const ok = res.phases.reduce((n, p) => n + p.ok, 0);
          const m = res.phases[1]!;
          const a = (acc[mode][name] ??= { rps: [], hist: [], errors: 0, us: {} });
          for (const [k, v] of Object.entries(cpu1)) (a.us[k] ??= []).push(ok > 0 ? ((v - (cpu0[k] ?? v)) * 1000) / ok : 0);
          if (inv0 !== undefined && inv1 !== undefined) a.invokes = (a.invokes ?? 0) + (inv1 - inv0);
          if (st1 !== undefined) a.instances = st1.instances.open;
          a.rps.push(m.rps);
          a.hist.push(m.histogram);
          a.errors += res.phases.reduce((n, p) => n + p.errors, 0);
          ctx.log(`cost ${mode} ${name} round ${r + 1}: ${Math.round(m.rps)} req/s, p50 ${m.latency.p50} ms, ${Object.entries(a.us).map(([k, v]) => `${k} ${Math.round(v.at(-1)!)} µs`).join(', ')}`);
        }
      }
    }
    const out: CostResult['modes'] = { saturation: {}, rate: {} };
    for (const mode of modes) {
      for (const [name, a] of Object.entries(acc[mode])) {
        const h = mergeEncoded(a.hist);
        const cpuUs: Record<string, number> = {};
        for (const [k, v] of Object.entries(a.us)) cpuUs[k] = Math.round(median(v) * 10) / 10;
        out[mode][name] = { rps: median(a.rps), latency: summarize(h), errors: a.errors, cpuUs, roundsUs: a.us, ...(a.invokes !== undefined ? { invokesWhileMeasured: a.invokes } : {}), ...(a.instances !== undefined ? { instances: a.instances } : {}) };
        h.destroy();
      }
    }
    notes.push(
      `router targets: ${Object.entries(variants).map(([n, v]) => `${n}${v.cpus !== undefined ? ` (taskset -c ${v.cpus})` : ''}${v.root !== undefined ? ` from ${v.root}` : ''}${Object.keys(v.env).length > 0 ? ` ${Object.entries(v.env).map(([k, x]) => `${k}=${x}`).join(' ')}` : ''}`).join('; ')}; default settings otherwise (control channel over TLS), each load its own router process`,
      '`lambda`: the router\'s own local Lambda process (its environments: extension + demo app in memory, and the Invoke API); `app`: the demo app served over HTTP by itself',
    );
    return { path, concurrency, rate, roundMs, rounds, modes: out, notes };
  } finally {
    for (const s of started.reverse()) await s.stop();
  }
}

/** Lambda side minus the app alone, and router ÷ Node proxy, per mode (µs, ratio). */
export function costSummary(c: CostResult): { mode: CostMode; routerVsProxy: number; lambdaMinusApp: number; addedP50Ms: number }[] {
  return (['saturation', 'rate'] as const).map((mode) => {
    const t = c.modes[mode];
    const router = t.router?.cpuUs.router ?? 0;
    const proxy = t['node-proxy']?.cpuUs.proxy ?? 0;
    return {
      mode,
      routerVsProxy: proxy > 0 ? router / proxy : 0,
      lambdaMinusApp: (t.router?.cpuUs.lambda ?? 0) - (t.direct?.cpuUs.app ?? 0),
      addedP50Ms: (t.router?.latency.p50 ?? 0) - (t.direct?.latency.p50 ?? 0),
    };
  });
}

/** The report's table: one row per target and process, both loads side by side. */
export function costTable(c: CostResult): { title: string; head: string[]; rows: string[][]; notes: string[] } {
  const r1 = (n: number | undefined) => (n === undefined ? '' : (Math.round(n * 10) / 10).toString());
  const spread = (v: number[] | undefined) => (v && v.length > 1 ? `${Math.round(Math.min(...v))}–${Math.round(Math.max(...v))}` : '');
  const rows: string[][] = [];
  for (const [name, sat] of Object.entries(c.modes.saturation)) {
    const rate = c.modes.rate[name];
    for (const proc of Object.keys(sat.cpuUs)) {
      rows.push([`${name}: ${proc}`, r1(sat.cpuUs[proc]), spread(sat.roundsUs[proc]), r1(rate?.cpuUs[proc]), spread(rate?.roundsUs[proc]), Math.round(sat.rps).toLocaleString('en-US'), r1(rate?.latency.p50), String(sat.errors + (rate?.errors ?? 0)), `${sat.invokesWhileMeasured ?? ''}${rate?.invokesWhileMeasured !== undefined ? ` / ${rate.invokesWhileMeasured}` : ''}`, `${sat.instances ?? ''}${rate?.instances !== undefined ? ` / ${rate.instances}` : ''}`]);
    }
  }
  const s = costSummary(c);
  return {
    title: `cost — CPU µs per request of each process on ${c.path}: saturation (${c.concurrency} clients) and open loop ${c.rate.toLocaleString('en-US')} req/s, median of ${c.rounds} alternating rounds × ${c.roundMs / 1000} s`,
    head: ['target: process', 'µs sat.', 'rounds', `µs ${c.rate}/s`, 'rounds', 'req/s sat.', `p50 ms ${c.rate}/s`, 'errors', 'invokes while measured', 'instances'],
    rows,
    notes: [...s.map((x) => `${x.mode}: router ÷ node proxy ${x.routerVsProxy.toFixed(2)}; Lambda side − app alone ${x.lambdaMinusApp.toFixed(1)} µs; router p50 − direct p50 ${x.addedP50Ms.toFixed(2)} ms`), ...c.notes],
  };
}

/** The issue's targets, judged on this run's medians. */
export function costTargets(c: CostResult): { target: string; measured: string; met: boolean }[] {
  const out: { target: string; measured: string; met: boolean }[] = [];
  for (const x of costSummary(c)) {
    out.push({ target: `${x.mode}: router CPU per request ≤ 0.5 × the plain Node proxy's`, measured: `${x.routerVsProxy.toFixed(2)} ×`, met: x.routerVsProxy > 0 && x.routerVsProxy <= 0.5 });
    if (x.mode === 'saturation') out.push({ target: 'saturation: Lambda side − app alone ≤ 25 µs per request', measured: `${x.lambdaMinusApp.toFixed(1)} µs`, met: x.lambdaMinusApp <= 25 });
    else out.push({ target: `${c.rate} req/s: router p50 ≤ direct + 0.5 ms`, measured: `+${x.addedP50Ms.toFixed(2)} ms`, met: x.addedP50Ms <= 0.5 });
  }
  return out;
}
