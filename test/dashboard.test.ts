// The live dashboard in a real browser: the whole local stack under a few seconds of load, headless
// Chromium (Debian's `chromium`; test/browser.ts) on the admin listener's dashboard page. The
// numbers the page shows must move with the load, the uPlot charts must exist, and the page must
// throw nothing. A screenshot is left in test/output/dashboard.png to look at.
//   node --import tsx --test test/dashboard.test.ts

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { DASHBOARD_PATH, LIVE_PATH, type Live } from '../ingress/dashboard/dashboard.ts';
import { checkChromium, launchChromium, type Browser } from './browser.ts';
import { call, startStack, waitFor, type Stack } from './stack.ts';

const OUTPUT = fileURLToPath(new URL('./output/', import.meta.url));
const LOAD_LIMIT_MS = 60_000;
const CLIENTS = 12;

/** What the page shows, read from its DOM; NaN where it shows no number. */
interface Shown {
  rps: number;
  requests: number;
  inFlight: number;
  instances: number;
  p50: number;
  p99: number;
  invokes: number;
  canvases: number;
  /** The line above the numbers: when it last read live.json, or why it could not. */
  state: string;
  down: boolean;
}

const READ = `(() => {
  const n = (id) => Number((document.getElementById(id)?.textContent ?? '').replaceAll(',', '') || NaN);
  return {
    rps: n('requests-per-second'), requests: n('requests'), inFlight: n('in-flight'), instances: n('instances'),
    p50: n('p50'), p99: n('p99'), invokes: n('invokes'),
    canvases: document.querySelectorAll('#charts .uplot canvas').length,
    state: document.getElementById('state')?.textContent, down: document.getElementById('state')?.className === 'down',
  };
})()`;

/** Requests from CLIENTS loops until stop() (or LOAD_LIMIT_MS): pings and delays of 5-80 ms, so the percentiles differ. */
function load(base: string): { stop(): Promise<{ sent: number; failures: string[] }> } {
  let stopped = false;
  const until = Date.now() + LOAD_LIMIT_MS;
  let sent = 0;
  const failures: string[] = [];
  const client = async (i: number) => {
    while (!stopped && Date.now() < until) {
      const path = sent % 3 === 0 ? '/ping' : `/delay?ms=${5 + ((sent * 7 + i) % 76)}`;
      sent++;
      try {
        const r = await call(base, path);
        if (r.status !== 200) failures.push(`${path}: ${r.status} ${r.body.toString()}`);
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const running = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  return {
    stop: async () => {
      stopped = true;
      await running;
      return { sent, failures };
    },
  };
}

test('the dashboard shows the router live: numbers that move under load, uPlot charts, a screenshot', { timeout: 120_000 }, async (t) => {
  const started = Date.now();
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  let traffic: ReturnType<typeof load> | undefined;
  try {
    checkChromium(); // before anything starts: without it the test fails at once, saying what to install
    stack = await startStack();
    const dashboard = `${stack.router.adminUrl}${DASHBOARD_PATH}`;

    // The server's half first: live.json and the files the page loads.
    const live = await call(stack.router.adminUrl, LIVE_PATH);
    assert.equal(live.status, 200);
    assert.equal(live.headers['cache-control'], 'no-store');
    const l = JSON.parse(live.body.toString()) as Live;
    for (const key of ['at', 'requests', 'inFlight', 'waiting', 'instances', 'workers', 'invokes', 'coldStarts', 'durations']) assert.ok(key in l, `live.json has ${key}`);
    assert.equal(l.durations.le.at(-1), null, "JSON's stand-in for the +Inf bound");
    for (const [file, type] of [['', /text\/html/], ['/uplot.js', /javascript/], ['/uplot.css', /text\/css/], ['/quantiles.js', /javascript/]] as const) {
      const r = await call(dashboard, `${DASHBOARD_PATH}${file}`);
      assert.equal(r.status, 200, `${file}: ${r.body.toString()}`);
      assert.match(String(r.headers['content-type']), type);
    }
    assert.equal((await call(dashboard, `${DASHBOARD_PATH}/live.json`, { method: 'POST' })).status, 405);
    assert.equal((await call(dashboard, `${DASHBOARD_PATH}/nothing`)).status, 404);
    assert.equal((await call(stack.router.url, LIVE_PATH)).status, 404, 'not on the client port: the demo app answers');

    traffic = load(stack.router.url);
    browser = await launchChromium({ width: 1280, height: 860 });
    const page = browser.page;
    const problems: string[] = [];
    page.on('Runtime.exceptionThrown', (p) => problems.push(JSON.stringify(p)));
    page.on('Log.entryAdded', (p) => {
      const entry = p.entry as { level: string; text: string; url?: string };
      if (entry.level === 'error') problems.push(`${entry.text} ${entry.url ?? ''}`);
    });
    await page.send('Runtime.enable');
    await page.send('Log.enable');
    await page.send('Page.enable');
    await page.send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 860, deviceScaleFactor: 1, mobile: false });
    await page.send('Page.navigate', { url: dashboard });

    const read = () => page.evaluate<Shown>(READ);
    const moving = (s: Shown) => s.rps > 0 && s.p50 > 0 && s.p99 > 0 && s.instances >= 1;
    const first = await waitFor(read, moving, 20_000);
    assert.ok(moving(first), `the page shows the load within 20 s: ${JSON.stringify(first)}; ${problems.join('\n')}`);
    await new Promise((r) => setTimeout(r, 2500));
    const second = await read();
    t.diagnostic(`read twice: ${JSON.stringify(first)} then ${JSON.stringify(second)}`);

    assert.ok(second.requests > first.requests, `requests ended grows: ${first.requests} → ${second.requests}`);
    assert.ok(second.rps > 0, `requests/s ${second.rps}`);
    // In milliseconds: two thirds of the load sleep 5 ms or more, so the median is at least that.
    assert.ok(Number.isFinite(second.p50) && second.p50 >= 2, `p50 ${second.p50} ms`);
    assert.ok(Number.isFinite(second.p99) && second.p99 >= second.p50, `p99 ${second.p99} ms ≥ p50 ${second.p50} ms`);
    assert.ok(second.instances >= 1, `instances ${second.instances}`);
    assert.ok(second.invokes >= 1, `invokes ${second.invokes}`);
    assert.ok(!second.down && /^updated/.test(second.state), `the page reaches live.json: ${second.state}`);
    // Five charts, each a uPlot with its canvas.
    assert.equal(second.canvases, 5);
    // The requests/s line is drawn: pixels of its colour (#1c7ed6) on the chart's canvas.
    const drawn = await page.evaluate<number>(`(() => {
      const c = document.querySelector('#chart-requests canvas');
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 200 && Math.abs(px[i] - 28) < 30 && Math.abs(px[i + 1] - 126) < 30 && Math.abs(px[i + 2] - 214) < 30) n++;
      return n;
    })()`);
    assert.ok(drawn > 50, `the requests/s line is drawn (${drawn} pixels of its colour)`);

    // A few more seconds for the charts, then the picture.
    await new Promise((r) => setTimeout(r, 4000));
    const shot = await page.send<{ data: string }>('Page.captureScreenshot', { format: 'png' });
    mkdirSync(OUTPUT, { recursive: true });
    const file = `${OUTPUT}dashboard.png`;
    writeFileSync(file, Buffer.from(shot.data, 'base64'));
    t.diagnostic(`screenshot: ${file}`);
    assert.deepEqual(problems, [], 'the page logged no error and threw nothing');
    const { sent, failures } = await traffic.stop();
    t.diagnostic(`${sent} requests of load`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${sent} requests of the load failed`);
  } finally {
    await traffic?.stop();
    await browser?.close();
    await stack?.close();
    t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s in all`);
  }
});
