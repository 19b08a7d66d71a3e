// The live dashboard on the admin listener: one HTML page (index.html, beside this file) that asks
// for live.json every second and draws it with uPlot. The server stays stateless: live.json is
// totals and gauges read now, and the page makes rates and the last second's percentiles from two
// consecutive answers (quantiles.js, which the page and the unit test both import).
//
// Every file is served from this machine (no CDN: the page works offline). They are read once, on
// first request, and kept. From the sources they are found beside this file and in node_modules;
// the router bundle (infra/build.ts) copies them to dashboard/ beside main.js.

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { RouterStatus } from '../admin.ts';

export const DASHBOARD_PATH = '/_lambda_dispatch/dashboard';
export const LIVE_PATH = `${DASHBOARD_PATH}/live.json`;

export interface Durations {
  /** Upper bounds in seconds, ascending, the last one Infinity. */
  le: number[];
  /** Cumulative: counts[i] requests took at most le[i]. */
  counts: number[];
  count: number;
  sum: number;
}

export interface DashboardSource {
  status(): Promise<RouterStatus>;
  /** The request-duration histogram's cumulative buckets (seconds). */
  durations(): Promise<Durations>;
}

/** What the page reads every second. */
export interface Live {
  /** Epoch milliseconds when it was read. */
  at: number;
  /** Client requests ended (the duration histogram's count). */
  requests: number;
  inFlight: number;
  waiting: number;
  instances: { starting: number; open: number; draining: number; closing: number };
  workers: number;
  invokes: { started: number; failed: number };
  coldStarts: number;
  /** JSON has no Infinity: the last bound is written as null. */
  durations: Omit<Durations, 'le'> & { le: (number | null)[] };
}

export async function live(src: DashboardSource, now = Date.now): Promise<Live> {
  const [s, d] = await Promise.all([src.status(), src.durations()]);
  return {
    at: now(),
    requests: d.count,
    inFlight: s.inFlight,
    waiting: s.pending,
    instances: { starting: s.instances.starting, open: s.instances.open, draining: s.instances.draining, closing: s.instances.closing },
    workers: s.workers.connected,
    invokes: { started: s.invokes.started, failed: s.invokes.failed },
    coldStarts: s.coldStarts,
    durations: { le: d.le.map((b) => (Number.isFinite(b) ? b : null)), counts: d.counts, count: d.count, sum: d.sum },
  };
}

interface Asset {
  contentType: string;
  /** Where the file is in the sources. */
  source: () => string;
  /** Its name in the bundle's dashboard/ folder. */
  bundled: string;
}

const here = (name: string) => () => fileURLToPath(new URL(name, import.meta.url));
const fromPackage = (spec: string) => () => createRequire(import.meta.url).resolve(spec);

/** Paths under DASHBOARD_PATH and their files; infra/build.ts copies the same list. */
export const ASSETS = new Map<string, Asset>([
  ['', { contentType: 'text/html; charset=utf-8', source: here('./index.html'), bundled: 'index.html' }],
  ['/quantiles.js', { contentType: 'text/javascript; charset=utf-8', source: here('./quantiles.js'), bundled: 'quantiles.js' }],
  ['/uplot.js', { contentType: 'text/javascript; charset=utf-8', source: fromPackage('uplot/dist/uPlot.iife.min.js'), bundled: 'uPlot.iife.min.js' }],
  ['/uplot.css', { contentType: 'text/css; charset=utf-8', source: fromPackage('uplot/dist/uPlot.min.css'), bundled: 'uPlot.min.css' }],
]);

const loaded = new Map<string, Promise<Buffer>>();

async function load(asset: Asset): Promise<Buffer> {
  try {
    return await readFile(asset.source());
  } catch {
    // The bundle: main.js's folder holds dashboard/.
    return readFile(fileURLToPath(new URL(`dashboard/${asset.bundled}`, new URL('./', import.meta.url))));
  }
}

function serveAsset(key: string, asset: Asset, res: ServerResponse): void {
  let body = loaded.get(key);
  if (body === undefined) {
    loaded.set(key, (body = load(asset)));
    // A missing file is not kept: the next request looks again.
    body.catch(() => loaded.delete(key));
  }
  body.then(
    (b) => res.writeHead(200, { 'content-type': asset.contentType, 'content-length': b.length, 'cache-control': 'no-cache' }).end(b),
    (err: Error) => res.writeHead(404, { 'content-type': 'text/plain' }).end(`the dashboard's file ${asset.bundled} is not in this build: ${err.message}\n`),
  );
}

/** The handler for `path` when it is one of the dashboard's; undefined otherwise. */
export function dashboardPage(path: string, src: DashboardSource): ((req: IncomingMessage, res: ServerResponse) => void) | undefined {
  if (path === LIVE_PATH) {
    return (_req, res) => {
      live(src).then(
        (l) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(l)),
        (err: Error) => res.writeHead(503, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(`${err.message}\n`),
      );
    };
  }
  if (!path.startsWith(DASHBOARD_PATH)) return undefined;
  const rest = path.slice(DASHBOARD_PATH.length);
  const key = rest === '/' ? '' : rest;
  const asset = ASSETS.get(key);
  if (asset === undefined) return undefined;
  return (_req, res) => serveAsset(key, asset, res);
}
