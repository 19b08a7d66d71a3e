// `npm run bench [-- --quick] [--scenario NAME[,NAME]] [--repeats N]`
//
// Runs the scenarios (steady, burst, peak, cost, stream, telemetry, concurrency, websocket, micro) one after another on this machine and
// writes bench/results/<out>.json (every figure, machine, Node version, commit), <out>.md and
// <out>-burst.svg; a table goes to stdout. <out> is `latest`, or `quick` with --quick so that a
// smoke run never overwrites the full figures. With --scenario, the other scenarios' figures are
// kept from the previous file (each scenario records the run that produced it).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, arch, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildFunctions } from './functions.ts';
import { burstChart } from './burst-chart.ts';
import { checkTargets, markdownReport, SCENARIOS, textReport, type BenchReport, type RunInfo, type ScenarioName } from './report.ts';
import { runBurst } from './scenarios/burst.ts';
import type { Ctx } from './scenarios/common.ts';
import { runMicro } from './scenarios/micro.ts';
import { runPeak } from './scenarios/peak.ts';
import { runSteady } from './scenarios/steady.ts';
import { runStream } from './scenarios/stream.ts';
import { runTelemetry } from './scenarios/telemetry.ts';
import { runConcurrency } from './scenarios/concurrency.ts';
import { runWebSocket } from './scenarios/websocket.ts';
import { runCost } from './scenarios/cost.ts';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Args {
  quick: boolean;
  scenarios: ScenarioName[];
  repeats: number;
  out: string;
}

const USAGE = `usage: npm run bench [-- [--quick] [--scenario ${SCENARIOS.join('|')}[,…]] [--repeats N] [--out NAME]]`;

export function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let repeats = 3;
  let out: string | undefined;
  const scenarios: ScenarioName[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a === '--scenario' || a.startsWith('--scenario=')) {
      for (const name of (a.includes('=') ? a.slice(a.indexOf('=') + 1) : value()).split(',')) {
        if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario "${name}"\n${USAGE}`);
        if (!scenarios.includes(name as ScenarioName)) scenarios.push(name as ScenarioName);
      }
    } else if (a === '--repeats') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error(`--repeats must be an integer in 1..20\n${USAGE}`);
      repeats = n;
    } else if (a === '--out') {
      out = value();
      if (!/^[\w-]+$/.test(out)) throw new Error(`--out must be a plain name\n${USAGE}`);
    } else if (a === '--help' || a === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument "${a}"\n${USAGE}`);
  }
  return { quick, scenarios: scenarios.length > 0 ? scenarios : [...SCENARIOS], repeats, out: out ?? (quick ? 'quick' : 'latest') };
}

function commit(): string {
  const sha = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (sha.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' });
  return sha.stdout.trim() + (dirty.stdout.trim() !== '' ? '+dirty' : '');
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const raw = process.argv.slice(2);
  const command = `npm run bench${raw.length > 0 ? ` -- ${raw.join(' ')}` : ''}`;
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    platform: platform(),
    arch: arch(),
    loadAverageAtStart: loadavg(),
    loadAverageAtEnd: [] as number[],
  };
  const log = (line: string) => console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  log(`${command}: ${args.scenarios.join(', ')}${args.quick ? ' (quick)' : ''} on ${machine.cpus} × ${machine.cpuModel}, Node ${process.version}`);

  const functions = await buildFunctions();
  const ctx: Ctx = { quick: args.quick, repeats: args.repeats, functions, log };
  const info: RunInfo = { command, quick: args.quick, startedAt, commit: commit(), node: process.version };

  mkdirSync(RESULTS, { recursive: true });
  const jsonFile = `${RESULTS}${args.out}.json`;
  // A partial run keeps the other scenarios' figures (and which run they came from).
  let previous: Partial<BenchReport> = {};
  if (args.scenarios.length < SCENARIOS.length && existsSync(jsonFile)) {
    try {
      previous = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchReport;
    } catch {
      previous = {};
    }
  }
  const report: BenchReport = {
    command,
    quick: args.quick,
    startedAt,
    finishedAt: '',
    durationS: 0,
    node: process.version,
    commit: info.commit,
    machine,
    scenarios: { ...previous.scenarios },
    runs: { ...previous.runs },
    errors: { ...previous.errors },
    targets: [],
  };
  let chart: string | undefined;

  for (const name of args.scenarios) {
    log(`scenario ${name}`);
    delete report.errors[name];
    try {
      switch (name) {
        case 'steady':
          report.scenarios.steady = await runSteady(ctx);
          break;
        case 'burst': {
          const { points, ...rest } = await runBurst(ctx);
          report.scenarios.burst = rest;
          chart = burstChart({ ...rest, points });
          break;
        }
        case 'peak':
          report.scenarios.peak = await runPeak(ctx);
          break;
        case 'cost':
          report.scenarios.cost = await runCost(ctx);
          break;
        case 'stream':
          report.scenarios.stream = await runStream(ctx);
          break;
        case 'telemetry':
          report.scenarios.telemetry = await runTelemetry(ctx);
          break;
        case 'concurrency':
          report.scenarios.concurrency = await runConcurrency(ctx);
          break;
        case 'websocket':
          report.scenarios.websocket = await runWebSocket(ctx);
          break;
        case 'micro':
          report.scenarios.micro = await runMicro(ctx);
          break;
      }
      report.runs[name] = info;
    } catch (err) {
      log(`scenario ${name} failed: ${(err as Error).stack ?? String(err)}`);
      report.errors[name] = (err as Error).message;
      delete report.scenarios[name];
      delete report.runs[name];
    }
  }

  machine.loadAverageAtEnd = loadavg();
  report.finishedAt = new Date().toISOString();
  report.durationS = Math.round((performance.now() - t0) / 100) / 10;
  report.targets = checkTargets(report.scenarios);
  const chartName = `${args.out}-burst.svg`;
  if (chart !== undefined) writeAtomic(`${RESULTS}${chartName}`, chart);
  const hasChart = chart !== undefined || existsSync(`${RESULTS}${chartName}`);
  writeAtomic(jsonFile, JSON.stringify(report, null, 2) + '\n');
  writeAtomic(`${RESULTS}${args.out}.md`, markdownReport(report, report.scenarios.burst && hasChart ? chartName : undefined));
  process.stdout.write('\n' + textReport(report));
  console.log(`\nwritten: bench/results/${args.out}.json, bench/results/${args.out}.md${hasChart ? `, bench/results/${chartName}` : ''} (${report.durationS} s)`);
  console.log(`produced by: ${command}`);
  process.exitCode = Object.keys(report.errors).length > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
