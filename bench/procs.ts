// The bench's processes: the router (ingress/main.ts, as in production), the demo app served
// directly, a plain Node reverse proxy, nginx when the machine has it, and the load generator.
// Everything listens on 127.0.0.1 only; every child is ended by its own pid when done.

import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult, Plan, StreamResult } from './loadgen.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const children = new Set<ChildProcess>();

// Whatever happens to the orchestrator, no child outlives it: a signal that ends it ends them too.
// nginx's master is asked to stop (SIGTERM: it ends its workers); killed, it would orphan them.
const finalSignal = new WeakMap<ChildProcess, NodeJS.Signals>();
const killChildren = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(finalSignal.get(c) ?? 'SIGKILL');
};
process.once('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}

export interface Service {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Spawns `node --import tsx <file>` and waits for a line matching `ready` on stdout (its first group is the URL). */
async function startNodeService(file: string, env: Record<string, string>, ready: RegExp, what: string, cpus?: string, root = ROOT): Promise<Service> {
  // LD_BENCH_CPU_PROF=<dir>: every service writes V8 CPU profiles (one per thread) to <dir>/<what>
  // when it stops, for the profile behind a figure (bench/profile.ts summarises them).
  const prof = process.env.LD_BENCH_CPU_PROF;
  // A baseline checkout's processes get folders of their own (`router-<checkout>`).
  const dir = `${what}${root === ROOT ? '' : `-${basename(root)}`}`.replace(/\W+/g, '-');
  const profile = prof ? ['--cpu-prof', `--cpu-prof-dir=${join(prof, dir)}`] : [];
  const node = [process.execPath, ...profile, '--import', 'tsx', file];
  // taskset execs node in place, so the child's pid is node's (its CPU is what /proc shows).
  const argv = cpus === undefined ? node : ['taskset', '-c', cpus, ...node];
  const child = track(
    spawn(argv[0]!, argv.slice(1), {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 30 s: ${out}${err}`)), 30_000);
    // Only until the ready line: after it the router writes an access line per request, which
    // the pipe must keep draining but nobody needs to read (or re-scan: that was quadratic).
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        out = '';
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${out}${err}`));
    });
  });
  child.stdout!.resume();
  let stopping = false;
  // A service that dies under load is a finding: say so, with what it printed last.
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`[bench] ${what} (pid ${child.pid}) exited unexpectedly (${signal ?? code}):\n${err.slice(-4000)}`);
  });
  return {
    url,
    pid: child.pid!,
    stop: () => {
      stopping = true;
      return stopChild(child);
    },
  };
}

export interface RouterProcess extends Service {
  status(): Promise<RouterStatus>;
}

export interface RouterStatus {
  instances: { starting: number; open: number; draining: number; closing: number };
  pending: number;
  inFlight: number;
  invokes: { started: number; failed: number };
  requests: { served: number; failed: number; timedOut: number; rejected: number };
  ingress: { memory: { rssBytes: number; heapUsedBytes: number; arrayBuffersBytes: number } };
  /** Each open instance's learned limit and last load report (core/dispatcher/status.ts). */
  concurrency: { instance: string; limit: number; busy: number; elu: number | null; reason: string }[];
}

/**
 * The router in its own process, exactly as the container runs it, invoking `lambdaUrl`; `cpus`: a
 * `taskset -c` list; `root`: another checkout's router (a baseline measured side by side).
 */
export async function startRouterProcess(lambdaUrl: string, env: Record<string, string> = {}, cpus?: string, root?: string): Promise<RouterProcess> {
  // Status is on the admin listener (loopback), never on the client port.
  const adminPort = await freePort();
  const svc = await startNodeService(
    'ingress/main.ts',
    {
      AWS_ENDPOINT_URL_LAMBDA: lambdaUrl,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LAMBDA_DISPATCH_BindHost: '127.0.0.1',
      LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
      LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0',
      // Within stopChild's 10 s before SIGKILL, idle client connections included.
      LAMBDA_DISPATCH_ShutdownGraceMs: '5000',
      LAMBDA_DISPATCH_AdminPort: String(adminPort),
      ...env,
    },
    /router: (http:\/\/\S+)/,
    'router',
    cpus,
    root,
  );
  return {
    ...svc,
    status: async () => {
      const res = await fetch(`http://127.0.0.1:${adminPort}/_lambda_dispatch/status`);
      return (await res.json()) as RouterStatus;
    },
  };
}

/**
 * A local Lambda (infra/local/main.ts) in a process of its own, running `handlerModule`: what one
 * router's environments cost is then that process's CPU, apart from every other router's.
 */
/** `env` adds settings for its environments (the extension reads them, e.g. LAMBDA_DISPATCH_AccessLogSample). */
export function startLambdaProcess(handlerModule: string, functionName: string, concurrency: number, timeoutS: number, env: Record<string, string> = {}): Promise<Service> {
  return startNodeService(
    'infra/local/main.ts',
    {
      ...env,
      LOCAL_LAMBDA_PORT: '0',
      LOCAL_LAMBDA_HANDLER: handlerModule,
      LOCAL_LAMBDA_CONCURRENCY: String(concurrency),
      LOCAL_LAMBDA_TIMEOUT_S: String(timeoutS),
      LOCAL_LAMBDA_QUIET: 'true',
      LAMBDA_DISPATCH_FunctionName: functionName,
    },
    /listening on (http:\/\/\S+)/,
    'local lambda',
  );
}

/** demo/serve.ts: the same app with no router in front. */
export function startDemoProcess(): Promise<Service> {
  return startNodeService('demo/serve.ts', { DEMO_PORT: '0', DEMO_HOST: '127.0.0.1' }, /listening on (http:\/\/\S+)/, 'demo app');
}

/** bench/node-proxy.ts: a plain node:http reverse proxy to `target`. */
export function startNodeProxy(target: string): Promise<Service> {
  return startNodeService('bench/node-proxy.ts', { PROXY_TARGET: target }, /node proxy: (http:\/\/\S+)/, 'node proxy');
}

export function nginxAvailable(): boolean {
  const r = spawnSync('nginx', ['-v'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * nginx as a reverse proxy to `target` (one worker process, upstream keep-alive), from a config in
 * a temporary prefix; undefined when nginx is not installed.
 */
export async function startNginx(target: string): Promise<Service | undefined> {
  if (!nginxAvailable()) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ld-bench-nginx-'));
  const port = await freePort();
  const upstream = new URL(target);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server ${upstream.hostname}:${upstream.port}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 100000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`,
  );
  const child = track(spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  finalSignal.set(child, 'SIGTERM');
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${err}`);
    try {
      const res = await fetch(`${url}/ping`);
      await res.text();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await stopChild(child);
      throw new Error(`nginx did not answer within 10 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      await stopChild(child, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one plan in a fresh load-generator process. */
export function runLoadgen(plan: Extract<Plan, { kind: 'open' | 'closed' }>): Promise<LoadResult>;
export function runLoadgen(plan: Extract<Plan, { kind: 'stream' }>): Promise<StreamResult>;
export function runLoadgen(plan: Plan): Promise<LoadResult | StreamResult> {
  const child = track(
    fork(fileURLToPath(new URL('./loadgen.ts', import.meta.url)), ['--loadgen-child'], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    }),
  );
  return new Promise((resolve, reject) => {
    let settled = false;
    child.once('message', (m: { ok: true; result: LoadResult | StreamResult } | { ok: false; error: string }) => {
      settled = true;
      if (m.ok) resolve(m.result);
      else reject(new Error(`load generator: ${m.error}`));
    });
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`load generator exited with ${code} before answering`));
    });
    child.send(plan);
  });
}

/** CPU time (user + system, ms) a process has used so far, from /proc; undefined where there is none. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at index 2 of the remainder.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** CPU time (ms) of a process and its live children (nginx's master and workers), from /proc. */
export function processTreeCpuMs(pid: number): number | undefined {
  const own = processCpuMs(pid);
  if (own === undefined) return undefined;
  let total = own;
  let children = '';
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return total;
  }
  for (const c of children.trim().split(/\s+/)) if (c !== '') total += processTreeCpuMs(Number(c)) ?? 0;
  return total;
}
