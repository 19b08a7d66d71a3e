// Summarises V8 CPU profiles (.cpuprofile, as `node --cpu-prof` and LD_BENCH_CPU_PROF write them):
// for each profile, the share of its busy samples by where the time went — our own modules by file, each
// dependency by package, Node's internals by module, and V8's own entries (GC, idle, the program
// outside JavaScript) — then the heaviest functions by self time.
//   node --import tsx bench/profile.ts <dir or .cpuprofile>… [--top N]

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's time is counted: a file of ours, a package, a Node module, or V8's own bucket. */
export function place(url: string, functionName: string): string {
  // tsx adds a query to the modules it loads; the file is what counts.
  url = url.split('?')[0]!;
  if (url === '') return functionName.startsWith('(') ? functionName : `(${functionName || 'anonymous'})`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `pkg ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return url;
  // The last of our top-level folders in the path: a checkout may itself live under one of those names.
  const m = /\/(core|ingress|extension|infra|bench|demo)\/(?!.*\/(core|ingress|extension|infra|bench|demo)\/).*$/.exec(url);
  return m ? m[0].slice(1) : url;
}

export function summarise(p: Profile, top: number): string[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
    total += dt;
  }
  const places = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const where = place(f.url, f.functionName);
    places.set(where, (places.get(where) ?? 0) + us);
    // tsx's transformed modules report line 1 for everything: a line is named only where it means one.
    const fn = `${f.functionName || '(anonymous)'} ${where}${f.lineNumber > 0 ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  if (total === 0) return ['no samples'];
  // A thread of a service idles most of a bench run: shares are of its busy time, or its few
  // percent of work would show at a resolution of whole percents.
  const busy = total - (places.get('(idle)') ?? 0);
  places.delete('(idle)');
  fns.delete('(idle) (idle)');
  if (busy === 0) return [`${(total / 1e6).toFixed(1)} s sampled, all idle`];
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  const lines = [`${(total / 1e6).toFixed(1)} s sampled, ${((100 * busy) / total).toFixed(0)} % busy; shares of the busy time by place:`];
  for (const [k, v] of [...places].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('heaviest functions (self, share of the busy time):');
  for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  return lines;
}

function files(arg: string): string[] {
  if (!statSync(arg).isDirectory()) return [arg];
  return readdirSync(arg, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(arg, f))
    .sort();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args.splice(t, 2)[1]) : 15;
  if (args.length === 0) {
    console.error('usage: node --import tsx bench/profile.ts <dir or .cpuprofile>… [--top N]');
    process.exit(2);
  }
  for (const f of args.flatMap(files)) {
    console.log(`\n${f}`);
    for (const line of summarise(JSON.parse(readFileSync(f, 'utf8')) as Profile, top)) console.log(line);
  }
}
