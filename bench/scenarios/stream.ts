// stream: one large POST /echo through the router (1 GiB; 256 MiB with --quick), echoed back while
// it uploads: MB/s, and the router process's memory read from its status endpoint meanwhile.

import { runLoadgen, startRouterProcess } from '../procs.ts';
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
}

const MB = 1048576;
const round1 = (n: number) => Math.round(n * 10) / 10;

export async function runStream(ctx: Ctx): Promise<StreamScenarioResult> {
  const bytes = (ctx.quick ? 256 : 1024) * MB;
  const lambda = await routerLambda(ctx, { concurrency: 4 });
  const router = await startRouterProcess(lambda.url, ROUTER_ENV);
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
    const res = await runLoadgen({ kind: 'stream', url: router.url, path: '/echo', bytes, chunkBytes: 64 * 1024, timeoutMs: 300_000 });
    sampling = false;
    await sampler;
    ctx.log(`stream: ${round1(res.mbPerS)} MB/s, router RSS +${round1((peak.rss - baseline.rss) / MB)} MB, verified ${res.verified}`);
    return {
      bytes,
      mbPerS: round1(res.mbPerS),
      seconds: round1(res.ms / 1000),
      verified: res.verified,
      ...(res.error !== undefined ? { error: res.error } : {}),
      rss: { baselineMb: round1(baseline.rss / MB), peakMb: round1(peak.rss / MB), growthMb: round1((peak.rss - baseline.rss) / MB) },
      live: { baselineMb: round1(baseline.live / MB), peakMb: round1(peak.live / MB), growthMb: round1((peak.live - baseline.live) / MB) },
      samples,
    };
  } finally {
    await router.stop();
    await lambda.close();
  }
}
