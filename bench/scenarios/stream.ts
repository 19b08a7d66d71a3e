// stream: one large POST /echo through the router (1 GiB; 256 MiB with --quick), echoed back while
// it uploads: MB/s, and the router process's memory read from its status endpoint meanwhile. The
// same stream then goes through a router with a plain ws:// control channel, so that what TLS
// costs per MB (MB/s, router and Lambda CPU) is measured side by side in one run.

import { processCpuMs, runLoadgen, startRouterProcess } from '../procs.ts';
import { ROUTER_ENV, routerLambda, sleep, type Ctx } from './common.ts';

export interface StreamScenarioResult {
  bytes: number;
  mbPerS: number;
  seconds: number;
  verified: boolean;
  error?: string;
  rss: { baselineMb: number; peakMb: number; growthMb: number };
  /** heapUsed + arrayBuffers: what the per-request windows bound. */
  live: { baselineMb: number; peakMb: number; growthMb: number };
  samples: number;
  /** CPU ms per MiB streamed (each MiB goes up and comes back): router process, local Lambda (this process). */
  cpuMsPerMb: { router: number; lambda: number };
  /** The same stream with LAMBDA_DISPATCH_ControlTls=false (the figures above are over TLS, the default). */
  plain?: { mbPerS: number; seconds: number; verified: boolean; cpuMsPerMb: { router: number; lambda: number } };
}

/** LAMBDA_DISPATCH_ControlTls=false: the control channel in plain ws://, for comparison. */
export const PLAIN_CONTROL = { LAMBDA_DISPATCH_ControlTls: 'false' };

const MB = 1048576;
const round1 = (n: number) => Math.round(n * 10) / 10;

const ownCpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

export async function runStream(ctx: Ctx): Promise<StreamScenarioResult> {
  const bytes = (ctx.quick ? 256 : 1024) * MB;
  const lambda = await routerLambda(ctx, { concurrency: 4 });
  try {
    const tls = await streamOnce(ctx, lambda.url, bytes, ROUTER_ENV);
    const plain = await streamOnce(ctx, lambda.url, bytes, { ...ROUTER_ENV, ...PLAIN_CONTROL });
    ctx.log(`stream: TLS ${tls.mbPerS} MB/s vs plain ${plain.mbPerS} MB/s; router CPU ${tls.cpuMsPerMb.router} vs ${plain.cpuMsPerMb.router} ms/MiB`);
    return { ...tls, plain: { mbPerS: plain.mbPerS, seconds: plain.seconds, verified: plain.verified, cpuMsPerMb: plain.cpuMsPerMb } };
  } finally {
    await lambda.close();
  }
}

async function streamOnce(ctx: Ctx, lambdaUrl: string, bytes: number, env: Record<string, string>): Promise<Omit<StreamScenarioResult, 'plain'>> {
  const router = await startRouterProcess(lambdaUrl, env);
  try {
    // Warm one instance, so that the memory figure is the stream's and not an instance start's.
    for (let i = 0; i < 3; i++) await (await fetch(`${router.url}/ping`)).text();
    await sleep(500);
    const m0 = (await router.status()).ingress.memory;
    const baseline = { rss: m0.rssBytes, live: m0.heapUsedBytes + m0.arrayBuffersBytes };
    const peak = { ...baseline };
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const m = (await router.status()).ingress.memory;
          peak.rss = Math.max(peak.rss, m.rssBytes);
          peak.live = Math.max(peak.live, m.heapUsedBytes + m.arrayBuffersBytes);
          samples++;
        } catch {
          // a missed sample
        }
        await sleep(100);
      }
    })();
    const cpu0 = { router: processCpuMs(router.pid) ?? 0, lambda: ownCpuMs() };
    const res = await runLoadgen({ kind: 'stream', url: router.url, path: '/echo', bytes, chunkBytes: 64 * 1024, timeoutMs: 300_000 });
    const cpu1 = { router: processCpuMs(router.pid) ?? 0, lambda: ownCpuMs() };
    sampling = false;
    await sampler;
    ctx.log(`stream (${env.LAMBDA_DISPATCH_ControlTls === 'false' ? 'plain ws://' : 'TLS'}): ${round1(res.mbPerS)} MB/s, router RSS +${round1((peak.rss - baseline.rss) / MB)} MB, verified ${res.verified}`);
    return {
      bytes,
      mbPerS: round1(res.mbPerS),
      seconds: round1(res.ms / 1000),
      verified: res.verified,
      ...(res.error !== undefined ? { error: res.error } : {}),
      rss: { baselineMb: round1(baseline.rss / MB), peakMb: round1(peak.rss / MB), growthMb: round1((peak.rss - baseline.rss) / MB) },
      live: { baselineMb: round1(baseline.live / MB), peakMb: round1(peak.live / MB), growthMb: round1((peak.live - baseline.live) / MB) },
      samples,
      // The orchestrator's own share (sampling the status, waiting) is small next to the environments'.
      cpuMsPerMb: { router: round1((cpu1.router - cpu0.router) / (bytes / MB)), lambda: round1((cpu1.lambda - cpu0.lambda) / (bytes / MB)) },
    };
  } finally {
    await router.stop();
  }
}
