// The burst scenario's chart: each request's latency against when it started, router and direct
// Lambda, with the cold start and the burst marked (bench/results/<out>-burst.svg).

import type { BurstResult } from './scenarios/burst.ts';
import { scatterSvg, thin, type Point } from './svg.ts';

/** The burst chart: every request's latency against its send time, router and direct Lambda. */
export function burstChart(b: BurstResult, maxPoints = 6000): string {
  const series = (p: { t: number[]; ms: number[] }): Point[] => p.t.map((t, i) => ({ t, ms: p.ms[i]! }));
  const router = series(b.points.router);
  const direct = series(b.points.direct);
  return scatterSvg(
    [
      { name: 'router', colour: '#1f77b4', points: thin(router, maxPoints, b.initMs / 4), total: router.length },
      { name: 'direct Lambda', colour: '#e8590c', points: thin(direct, maxPoints, b.initMs / 4), total: direct.length },
    ],
    {
      title: `burst: ${b.warmClients} → ${b.burstClients} clients, /delay?ms=${b.delayMs}, cold start ${b.initMs} ms`,
      marks: [{ ms: b.initMs, label: `cold start (${b.initMs} ms)` }],
      events: [{ t: b.warmMs / 1000, label: `${b.burstClients} clients` }],
    },
  );
}
