// The bench's pure parts: histogram summaries, cost arithmetic, open-loop schedules, the SVG chart,
// argument parsing and target checks. No timing is asserted here.
//   node --import tsx --test bench/bench.test.ts

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { costPerMillion, fargateEstimate, PRICES } from './cost.ts';
import { decodeHistogram, encodeHistogram, median, mergeEncoded, newHistogram, recordMs, summarize, Timeline } from './hist.ts';
import { checkTargets, type ScenarioResults } from './report.ts';
import { place, summarise } from './profile.ts';
import { parseArgs } from './run.ts';
import { closedSchedule, dueBy, intendedTime, openSchedule, phaseAt, totalRequests, type RatePhase } from './schedule.ts';
import { escapeXml, scatterSvg, thin, type Point } from './svg.ts';

test('summaries: percentiles of 1..1000 ms within hdr precision, in milliseconds', () => {
  const h = newHistogram();
  for (let i = 1; i <= 1000; i++) recordMs(h, i);
  const s = summarize(h);
  assert.equal(s.count, 1000);
  const near = (a: number, b: number) => assert.ok(Math.abs(a - b) <= b * 0.001 + 0.001, `${a} ≉ ${b}`);
  near(s.min, 1);
  near(s.p50, 500);
  near(s.p90, 900);
  near(s.p99, 990);
  near(s.p999, 999);
  near(s.max, 1000);
  near(s.mean, 500.5);
  assert.deepEqual(summarize(newHistogram()), { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
});

test('sub-millisecond values keep microsecond resolution; encode/decode/merge keep every count', () => {
  const a = newHistogram();
  recordMs(a, 0.25);
  recordMs(a, 0.75);
  const b = newHistogram();
  for (let i = 0; i < 98; i++) recordMs(b, 2);
  assert.equal(summarize(a).min, 0.25);
  const back = decodeHistogram(encodeHistogram(a));
  assert.equal(back.totalCount, 2);
  const merged = mergeEncoded([encodeHistogram(a), encodeHistogram(b)]);
  assert.equal(merged.totalCount, 100);
  assert.equal(summarize(merged).p50, 2);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), 0);
});

test('timeline: per second of send time, errors counted apart', () => {
  const t = new Timeline();
  t.record(10, 5, true);
  t.record(900, 7, true);
  t.record(1500, 100, true);
  t.record(1600, 0, false);
  const s = t.seconds();
  assert.deepEqual(
    s.map((x) => [x.t, x.count, x.errors]),
    [
      [0, 2, 0],
      [1, 2, 1],
    ],
  );
  assert.equal(s[1]!.max, 100);
});

test('cost: GB-seconds and dollars per million requests, Lambda list prices', () => {
  // One million requests of 50 ms at 512 MB, one invocation each.
  const direct = costPerMillion({ invocations: 1e6, gbSeconds: 1e6 * 0.05 * 0.5, requests: 1e6 });
  assert.equal(direct.gbSecondsPerMillion, 25_000);
  assert.ok(Math.abs(direct.x86Usd - (25_000 * PRICES.x86GbSecond + 0.2)) < 1e-9);
  assert.ok(Math.abs(direct.arm64Usd - (25_000 * PRICES.arm64GbSecond + 0.2)) < 1e-9);
  // Router: 10 invocations for 2,000 requests, scaled to a million.
  const router = costPerMillion({ invocations: 10, gbSeconds: 20, requests: 2000 });
  assert.equal(router.gbSecondsPerMillion, 10_000);
  assert.equal(router.invocationsPerMillion, 5000);
  assert.ok(Math.abs(router.x86Usd - (10_000 * PRICES.x86GbSecond + 0.001)) < 1e-9);
  assert.deepEqual(costPerMillion({ invocations: 0, gbSeconds: 0, requests: 0 }), { gbSecondsPerMillion: 0, invocationsPerMillion: 0, x86Usd: 0, arm64Usd: 0 });
  const fg = fargateEstimate(100);
  assert.ok(Math.abs(fg.x86UsdPerHour - (0.25 * 0.04048 + 0.5 * 0.004445)) < 1e-12);
  assert.ok(Math.abs(fg.x86UsdPerMillionAtRate - (fg.x86UsdPerHour / 360_000) * 1e6) < 1e-12);
});

test('open-loop schedule: intended times at fixed intervals across phases', () => {
  const phases: RatePhase[] = [
    { name: 'warm', rate: 100, durationMs: 1000, record: false },
    { name: 'measure', rate: 1000, durationMs: 500, record: true },
  ];
  const s = openSchedule(phases);
  assert.deepEqual(
    s.map((p) => [p.startMs, p.endMs, p.first, p.count]),
    [
      [0, 1000, 0, 100],
      [1000, 1500, 100, 500],
    ],
  );
  assert.equal(totalRequests(s), 600);
  assert.equal(intendedTime(s, phases, 0), 0);
  assert.equal(intendedTime(s, phases, 1), 10);
  assert.equal(intendedTime(s, phases, 99), 990);
  assert.equal(intendedTime(s, phases, 100), 1000);
  assert.equal(intendedTime(s, phases, 101), 1001);
  assert.throws(() => intendedTime(s, phases, 600), RangeError);
  // Due by a time: every request whose intended time has come, never past the end.
  assert.equal(dueBy(s, phases, 0), 1);
  assert.equal(dueBy(s, phases, 9.99), 1);
  assert.equal(dueBy(s, phases, 10), 2);
  assert.equal(dueBy(s, phases, 999), 100);
  assert.equal(dueBy(s, phases, 1000), 101);
  assert.equal(dueBy(s, phases, 1002.5), 103);
  assert.equal(dueBy(s, phases, 10_000), 600);
  // Consistency: request i is due exactly from its intended time on.
  for (const i of [0, 1, 50, 99, 100, 350, 599]) {
    const at = intendedTime(s, phases, i);
    assert.ok(dueBy(s, phases, at) > i, `request ${i} due at ${at}`);
    if (at > 0) assert.ok(dueBy(s, phases, at - 0.001) <= i, `request ${i} not due before ${at}`);
  }
  assert.throws(() => openSchedule([{ name: 'x', rate: 0, durationMs: 1, record: true }]));
});

test('closed-loop schedule: the phase in force at a time', () => {
  const s = closedSchedule([
    { name: 'warm', concurrency: 10, durationMs: 1000, record: false },
    { name: 'burst', concurrency: 100, durationMs: 2000, record: true },
  ]);
  assert.equal(phaseAt(s, 0), 0);
  assert.equal(phaseAt(s, 999), 0);
  assert.equal(phaseAt(s, 1000), 1);
  assert.equal(phaseAt(s, 2999), 1);
  assert.equal(phaseAt(s, 3000), -1);
});

/** A small well-formedness check: tags balance, attributes are quoted, no stray `<` or `&`. */
function assertWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m !== null; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    assert.ok(!/[<>]/.test(text), `stray markup in text: ${text.slice(0, 60)}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(text), `unescaped & in: ${text.slice(0, 60)}`);
    last = tag.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!selfClose) stack.push(name!);
  }
  assert.equal(body.slice(last).trim(), '', 'content after the root element');
  assert.deepEqual(stack, [], 'unclosed elements');
}

test('the chart is well-formed SVG with one circle per point per series, a legend, log-y ticks', () => {
  const router: Point[] = Array.from({ length: 120 }, (_, i) => ({ t: i / 10, ms: 50 + (i % 7) }));
  const direct: Point[] = Array.from({ length: 80 }, (_, i) => ({ t: i / 8, ms: i % 10 === 0 ? 2300 : 52 }));
  const svg = scatterSvg(
    [
      { name: 'router <fast> & "cheap"', colour: '#1f77b4', points: router },
      { name: 'direct Lambda', colour: '#e8590c', points: direct, total: 8000 },
    ],
    { title: 'burst & more', marks: [{ ms: 2000, label: 'cold start' }], events: [{ t: 5, label: '100 clients' }] },
  );
  assertWellFormed(svg);
  assert.ok(svg.startsWith('<?xml'));
  const group = (i: number) => svg.split(`<g class="series-${i}"`)[1]!.split('</g>')[0]!;
  assert.equal((group(0).match(/<circle /g) ?? []).length, 120);
  assert.equal((group(1).match(/<circle /g) ?? []).length, 80);
  assert.ok(svg.includes('router &lt;fast&gt; &amp; &quot;cheap&quot;'));
  assert.ok(svg.includes('80 of 8000 requests shown'));
  for (const label of ['1 ms', '10 ms', '100 ms', '1 s']) assert.ok(svg.includes(`>${label}<`), `y tick ${label}`);
  // No data at all still makes a valid (empty) chart.
  assertWellFormed(scatterSvg([{ name: 'none', colour: '#000', points: [] }], { title: 'empty' }));
  assert.equal(escapeXml(`<a href='x'>&</a>`), '&lt;a href=&apos;x&apos;&gt;&amp;&lt;/a&gt;');
});

test('thinning keeps every slow point and an even sample of the rest', () => {
  const pts: Point[] = Array.from({ length: 10_000 }, (_, i) => ({ t: i, ms: i % 1000 === 0 ? 3000 : 50 }));
  const kept = thin(pts, 500, 1000);
  assert.equal(kept.length, 500);
  assert.equal(kept.filter((p) => p.ms >= 1000).length, 10);
  assert.equal(thin(pts.slice(0, 100), 500).length, 100);
});

test('arguments: --quick, --scenario (repeated or comma-separated), --repeats, unknown ones refused', () => {
  assert.deepEqual(parseArgs([]), { quick: false, scenarios: ['steady', 'burst', 'peak', 'cost', 'stream', 'telemetry', 'concurrency', 'websocket', 'micro'], repeats: 3, out: 'latest' });
  assert.deepEqual(parseArgs(['--quick', '--scenario', 'burst']), { quick: true, scenarios: ['burst'], repeats: 3, out: 'quick' });
  assert.deepEqual(parseArgs(['--scenario=micro,peak', '--scenario', 'micro', '--repeats', '5']).scenarios, ['micro', 'peak']);
  assert.throws(() => parseArgs(['--scenario', 'nope']), /unknown scenario/);
  assert.throws(() => parseArgs(['--fast']), /unknown argument/);
  assert.throws(() => parseArgs(['--repeats', '0']), /--repeats/);
});

test('targets are judged from the figures', () => {
  const summary = (p99: number) => ({ count: 1, min: 1, mean: 1, p50: 1, p90: 1, p99, p999: p99, max: p99 });
  const s = {
    micro: { batch: 1, sizes: [{ bytes: 1024, ringPerS: 900, portPerS: 300, ratio: 3 }], frames: { encodePerS: 1, decodePerS: 1, headBytes: 1 } },
    stream: { bytes: 1, mbPerS: 120, seconds: 1, verified: true, rss: { baselineMb: 1, peakMb: 2, growthMb: 101 }, live: { baselineMb: 1, peakMb: 1, growthMb: 0 }, samples: 1 },
    peak: { path: '/ping', concurrency: 1, roundMs: 1, rounds: 1, targets: {}, routerVsNodeProxy: 1.01, notes: [] },
    steady: {
      rate: 1000,
      roundMs: 1,
      rounds: 1,
      routerInstances: 1,
      paths: [{ path: '/ping', direct: { latency: summary(3) }, router: { latency: summary(9) }, added: { p50: 0.9, p90: 0, p99: 6, p999: 0 } }],
    },
  } as unknown as ScenarioResults;
  const checks = checkTargets(s);
  const met = Object.fromEntries(checks.map((c) => [c.target, c.met]));
  assert.equal(met['ring ≥ 3 × MessagePort records/s at 1 KB'], true);
  assert.equal(met['≥ 100 MB/s, router memory growth ≤ 100 MB'], false);
  assert.equal(met['router ≥ 1.0 × the plain Node reverse proxy (req/s)'], true);
  assert.equal(met['/ping at 1,000 req/s: router p50 ≤ direct + 1 ms'], true);
  assert.equal(met['/ping at 1,000 req/s: router p99 ≤ direct + 5 ms'], false);
});

test('a CPU profile is summarised by place (our files, packages, Node modules, V8) and by function, as shares of the busy time', () => {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4, 5] },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('commit', 'file:///work/main/core/ring.ts?tsx-namespace=1') },
      { id: 4, callFrame: frame('send', 'file:///work/main/node_modules/ws/lib/sender.js') },
      { id: 5, callFrame: frame('write', 'node:net') },
    ],
    samples: [2, 2, 3, 3, 3, 4, 5, 2],
    timeDeltas: [100, 100, 100, 100, 100, 100, 100, 300],
  };
  assert.equal(place('file:///x/node_modules/@aws-sdk/client-lambda/dist/index.js', 'f'), 'pkg @aws-sdk/client-lambda');
  assert.equal(place('file:///work/main/ingress/proxy.ts', 'handle'), 'ingress/proxy.ts');
  assert.equal(place('file:///srv/bench/checkout/core/ring.ts?tsx-namespace=2', 'commit'), 'core/ring.ts', 'the last of our folders in the path');
  assert.deepEqual(summarise({ nodes: [], samples: [], timeDeltas: [] }, 5), ['no samples']);
  assert.equal(place('', '(garbage collector)'), '(garbage collector)');
  const lines = summarise(profile, 10);
  assert.equal(lines[0], '0.0 s sampled, 50 % busy; shares of the busy time by place:');
  assert.ok(!lines.some((l) => l.includes('(idle)')), lines.join('\n'));
  assert.ok(lines.includes('   60.0 %  core/ring.ts'), lines.join('\n'));
  assert.ok(lines.includes('   20.0 %  pkg ws'));
  assert.ok(lines.includes('   60.0 %  commit core/ring.ts'));
  assert.deepEqual(summarise({ nodes: [profile.nodes[1]!], samples: [2], timeDeltas: [5] }, 5), ['0.0 s sampled, all idle']);
});
