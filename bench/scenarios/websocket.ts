// websocket: WebSockets through the router against the same `ws` app served directly.
//  - echo: 50 sockets each sending a 512 B message and waiting for its echo, closed loop, for a
//    fixed time: messages/s and round-trip latency, router and direct alternating, medians;
//  - fan-in: 500 sockets (200 with --quick) opened at once, 100 messages each (20), every echo
//    checked byte for byte: how many environments held them, how long it took;
//  - slow clients: 100 sockets to /ws/flood?mb=100 whose clients do not read: the router's memory
//    while the app pushes as fast as it can, which the per-socket windows must bound.

import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { f1, f2, int } from '../format.ts';
import { newHistogram, recordMs, summarize, type LatencySummary } from '../hist.ts';
import { startDemoProcess, startRouterProcess } from '../procs.ts';
import { ROUTER_ENV, routerLambda, rotation, sleep, waitRouter, type Ctx } from './common.ts';

export interface EchoFigures {
  messagesPerS: number;
  latency: LatencySummary;
  errors: number;
}

export interface WebSocketScenarioResult {
  echo: { sockets: number; messageBytes: number; seconds: number; router: EchoFigures; direct: EchoFigures; rounds: number };
  fanIn: { sockets: number; messagesEach: number; verified: boolean; environments: number; seconds: number; errors: number };
  slowClients: { sockets: number; mbOffered: number; rssGrowthMb: number; liveGrowthMb: number; windowBoundMb: number };
}

const MB = 1048576;
const WINDOW_BYTES = 512 * 1024;
const round1 = (n: number) => Math.round(n * 10) / 10;

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Each socket sends and awaits its echo in a loop until `ms` has passed. */
async function echoLoad(base: string, sockets: number, bytes: number, ms: number): Promise<EchoFigures> {
  const url = `${base.replace(/^http/, 'ws')}/ws/echo`;
  const all = await Promise.all(Array.from({ length: sockets }, () => connect(url)));
  const hist = newHistogram();
  const payload = randomBytes(bytes);
  let messages = 0;
  let errors = 0;
  const until = performance.now() + ms;
  await Promise.all(
    all.map(async (ws) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const ok = await new Promise<boolean>((resolve) => {
          ws.once('message', (d: Buffer) => resolve(d.length === bytes));
          ws.send(payload, { binary: true }, (err) => err && resolve(false));
        });
        if (!ok) errors++;
        recordMs(hist, performance.now() - t0);
        messages++;
      }
    }),
  );
  for (const ws of all) ws.close(1000);
  return { messagesPerS: Math.round(messages / (ms / 1000)), latency: summarize(hist), errors };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runWebSocket(ctx: Ctx): Promise<WebSocketScenarioResult> {
  const lambda = await routerLambda(ctx);
  const direct = await startDemoProcess();
  const router = await startRouterProcess(lambda.url, ROUTER_ENV);
  try {
    // Warm: one environment open before anything is measured.
    await (await fetch(`${router.url}/ping`)).text();
    await waitRouter(router, (s) => s.instances.open >= 1, 30_000);

    // echo, router and direct alternating.
    const seconds = ctx.quick ? 3 : 8;
    const sockets = 50;
    const runs: { router: EchoFigures[]; direct: EchoFigures[] } = { router: [], direct: [] };
    for (let r = 0; r < ctx.repeats; r++) {
      for (const target of rotation(['router', 'direct'] as const, r)) {
        const f = await echoLoad(target === 'router' ? router.url : direct.url, sockets, 512, seconds * 1000);
        runs[target].push(f);
        ctx.log(`websocket echo ${target} round ${r + 1}: ${f.messagesPerS} msg/s, p50 ${f.latency.p50} p99 ${f.latency.p99} ms`);
        await sleep(500);
      }
    }
    const pick = (xs: EchoFigures[]) => xs.find((x) => x.messagesPerS === median(xs.map((y) => y.messagesPerS)))!;

    // fan-in: many sockets at once, every message checked.
    const fanSockets = ctx.quick ? 200 : 500;
    const messagesEach = ctx.quick ? 20 : 100;
    const t0 = performance.now();
    const url = `${router.url.replace(/^http/, 'ws')}/ws/echo`;
    const all = await Promise.all(Array.from({ length: fanSockets }, () => connect(url)));
    const environments = (await router.status()).instances.open;
    let verified = true;
    let errors = 0;
    await Promise.all(
      all.map(async (ws, i) => {
        for (let k = 0; k < messagesEach; k++) {
          const m = randomBytes(1 + ((i * 97 + k * 13) % 4096));
          const back = await new Promise<Buffer | null>((resolve) => {
            ws.once('message', (d: Buffer) => resolve(d));
            ws.once('close', () => resolve(null));
            ws.send(m);
          });
          ws.removeAllListeners('close');
          if (back === null) errors++;
          else if (!back.equals(m)) verified = false;
        }
      }),
    );
    for (const ws of all) ws.close(1000);
    const fanSecondsTaken = (performance.now() - t0) / 1000;
    ctx.log(`websocket fan-in: ${fanSockets} sockets × ${messagesEach} messages on ${environments} environments in ${round1(fanSecondsTaken)} s, verified ${verified}`);
    await waitRouter(router, (s) => (s as unknown as { sockets: number }).sockets === 0, 30_000);

    // slow clients: they never read; the app pushes all it can.
    const slow = 100;
    const m0 = (await router.status()).ingress.memory;
    const floods = await Promise.all(Array.from({ length: slow }, () => connect(`${router.url.replace(/^http/, 'ws')}/ws/flood?mb=100`)));
    for (const ws of floods) (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    let peakRss = m0.rssBytes;
    let peakLive = m0.heapUsedBytes + m0.arrayBuffersBytes;
    for (let i = 0; i < (ctx.quick ? 30 : 60); i++) {
      const m = (await router.status()).ingress.memory;
      peakRss = Math.max(peakRss, m.rssBytes);
      peakLive = Math.max(peakLive, m.heapUsedBytes + m.arrayBuffersBytes);
      await sleep(100);
    }
    for (const ws of floods) ws.terminate();
    await waitRouter(router, (s) => (s as unknown as { sockets: number }).sockets === 0, 30_000);
    const slowClients = {
      sockets: slow,
      mbOffered: 100,
      rssGrowthMb: round1((peakRss - m0.rssBytes) / MB),
      liveGrowthMb: round1((peakLive - m0.heapUsedBytes - m0.arrayBuffersBytes) / MB),
      windowBoundMb: round1((slow * WINDOW_BYTES) / MB),
    };
    ctx.log(`websocket slow clients: ${slow} × 100 MB offered, router RSS +${slowClients.rssGrowthMb} MB (live +${slowClients.liveGrowthMb} MB; windows bound ${slowClients.windowBoundMb} MB)`);
    return {
      echo: { sockets, messageBytes: 512, seconds, router: pick(runs.router), direct: pick(runs.direct), rounds: ctx.repeats },
      fanIn: { sockets: fanSockets, messagesEach, verified, environments, seconds: round1(fanSecondsTaken), errors },
      slowClients,
    };
  } finally {
    await router.stop();
    await direct.stop();
    await lambda.close();
  }
}

/** The report's check of this scenario's figures. */
export function websocketCheck(w: WebSocketScenarioResult): { scenario: 'websocket'; target: string; measured: string; met: boolean } {
  return {
    scenario: 'websocket',
    target: 'fan-in echoes verified on fewer environments than sockets; slow clients held to their windows',
    measured: `${w.fanIn.sockets} sockets × ${w.fanIn.messagesEach} on ${w.fanIn.environments} environments, verified ${w.fanIn.verified}; ${w.slowClients.sockets} slow clients: RSS +${f1(w.slowClients.rssGrowthMb)} MB (bound ${f1(w.slowClients.windowBoundMb)} MB)`,
    met: w.fanIn.verified && w.fanIn.errors === 0 && w.fanIn.environments < w.fanIn.sockets && w.slowClients.rssGrowthMb <= 2 * w.slowClients.windowBoundMb + 50,
  };
}

/** The report's table of this scenario. */
export function websocketSection(w: WebSocketScenarioResult): { title: string; head: string[]; rows: string[][]; notes: string[] } {
  const e = w.echo;
  const row = (name: string, f: EchoFigures) => [name, int(f.messagesPerS), f2(f.latency.p50), f2(f.latency.p99), String(f.errors)];
  return {
    title: `websocket — ${e.sockets} sockets echoing ${e.messageBytes} B messages, closed loop, ${e.seconds} s, median of ${e.rounds} alternating rounds`,
    head: ['target', 'messages/s', 'p50 ms', 'p99 ms', 'errors'],
    rows: [row('router', e.router), row('direct (same ws app)', e.direct)],
    notes: [
      `router ÷ direct messages/s = ${f2(e.router.messagesPerS / Math.max(1, e.direct.messagesPerS))}`,
      `fan-in: ${w.fanIn.sockets} sockets opened at once, ${w.fanIn.messagesEach} messages each (1 B – 4 KiB, every echo compared): ${w.fanIn.environments} environments, ${f1(w.fanIn.seconds)} s, verified ${w.fanIn.verified}, ${w.fanIn.errors} lost`,
      `slow clients: ${w.slowClients.sockets} sockets to /ws/flood?mb=${w.slowClients.mbOffered} whose clients never read: router RSS +${f1(w.slowClients.rssGrowthMb)} MB, live +${f1(w.slowClients.liveGrowthMb)} MB (one 512 KiB window each: ${f1(w.slowClients.windowBoundMb)} MB)`,
    ],
  };
}
