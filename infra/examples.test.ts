// The examples under examples/, as a user gets them: each copied into the project where the
// packed package is installed (package/packed.ts, shared with infra/package.test.ts), its
// framework linked from this repository's node_modules (the versions the lock file pins), and
// there: type-checked (the app, and sst.config.ts against SST's declarations), synthesized
// offline with the SST check's harness (infra/sst-check), and served through its own `npm run
// dev` (lambda-dispatch local). The Python example's container image is checked as far as it can
// be without Docker: its bundle serves the routes from a directory holding only what the
// Dockerfile copies.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from './command.ts';
import { Graph } from './sst-check/graph.ts';
import { sstInstallOnce } from './sst-check/sst-cli.ts';
import { synthesize } from './sst-check/synth.ts';
import { cleanEnv, packed, ROOT, type Packed } from './package/packed.ts';

const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

interface Example {
  name: string;
  /** Packages of the repository's node_modules it needs besides lambda-dispatch. */
  links: string[];
  deploys: boolean;
}

const EXAMPLES: Example[] = [
  { name: 'express', links: ['express', '@types/express'], deploys: true },
  { name: 'fastify', links: ['fastify'], deploys: true },
  { name: 'hono', links: ['hono'], deploys: true },
  { name: 'port-app', links: [], deploys: true },
  { name: 'python', links: [], deploys: false },
];

let p: Packed;
const dirs = new Map<string, string>();

before(async () => {
  [p] = await Promise.all([packed(), sstInstallOnce(ROOT)]);
  const modules = path.join(p.project, 'node_modules');
  // tsx: `lambda-dispatch local handler.ts` loads a TypeScript handler through it.
  for (const name of new Set(['tsx', ...EXAMPLES.flatMap((e) => e.links)])) {
    const link = path.join(modules, name);
    mkdirSync(path.dirname(link), { recursive: true });
    if (!existsSync(link)) symlinkSync(path.join(ROOT, 'node_modules', name), link, 'dir');
  }
  for (const e of EXAMPLES) {
    const dir = path.join(p.project, 'examples', e.name);
    rmSync(dir, { recursive: true, force: true });
    cpSync(path.join(ROOT, 'examples', e.name), dir, { recursive: true, filter: (src) => !/(^|\/)(node_modules|\.sst|dist)(\/|$)/.test(path.relative(ROOT, src)) });
    dirs.set(e.name, dir);
  }
});

async function attempt(cmd: string, args: string[], cwd: string, env = cleanEnv()): Promise<{ code: number; out: string }> {
  const r = await runCommand(cmd, args, { cwd, env, timeoutMs: 180_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** The example's own script, run as npm would (its bins on PATH: the project's and the repository's for esbuild). */
function script(name: string, which: string): string {
  const pkg = JSON.parse(readFileSync(path.join(dirs.get(name)!, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const s = pkg.scripts[which];
  assert.ok(s, `${name} has a ${which} script`);
  return s;
}

function scriptEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  env.PATH = [path.join(p.project, 'node_modules', '.bin'), path.join(ROOT, 'node_modules', '.bin'), env.PATH].join(path.delimiter);
  return env;
}

/** Runs a `lambda-dispatch local` command line in `cwd`, checks the example's three routes, and stops it with Ctrl-C. */
async function serveAndCheck(commandLine: string, cwd: string, framework: RegExp): Promise<void> {
  const child = spawn('sh', ['-c', `exec ${commandLine} --port 0 --admin-port 0`], {
    cwd,
    // fetch keeps its connection open, and the drain waits for clients to leave at most this long.
    env: scriptEnv({ LAMBDA_DISPATCH_ShutdownGraceMs: '2000', LOCAL_LAMBDA_CONCURRENCY: '2' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await until(() => /^router\s+(http:\/\/\S+)/m.exec(output)?.[1], 60_000, () => output);
    // A router that never answers fails the test instead of holding the run.
    const signal = AbortSignal.timeout(30_000);
    const root = await fetch(`${url}/`, { signal });
    assert.equal(root.status, 200, output);
    assert.match(((await root.json()) as { framework: string }).framework, framework);
    const user = await fetch(`${url}/users/42`, { signal });
    assert.deepEqual(await user.json(), { id: '42' });
    const echo = await fetch(`${url}/echo`, { signal, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: [1, 'two'] }) });
    assert.deepEqual(await echo.json(), { received: { a: [1, 'two'] } });
  } finally {
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exit;
    clearTimeout(timer);
    assert.equal(code, 0, output);
  }
}

async function until<T>(probe: () => T | undefined, ms: number, describe: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not within ${ms} ms:\n${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const FRAMEWORK: Record<string, RegExp> = { express: /^express$/, fastify: /^fastify$/, hono: /^hono$/, 'port-app': /port/, python: /python/ };

for (const e of EXAMPLES) {
  test(`examples/${e.name}: a package.json that depends on the package by path, a README, and the app type-checks`, async () => {
    const dir = dirs.get(e.name)!;
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; scripts: Record<string, string> };
    assert.equal(pkg.dependencies['lambda-dispatch'], 'file:../..');
    assert.equal(pkg.scripts.dev, 'lambda-dispatch local handler.ts');
    assert.ok(existsSync(path.join(dir, 'README.md')));
    const r = await attempt(process.execPath, [TSC, '-p', 'tsconfig.json'], dir);
    assert.equal(r.code, 0, r.out);
  });

  test(`examples/${e.name}: npm run dev serves its routes through lambda-dispatch local`, async () => {
    await serveAndCheck(script(e.name, 'dev'), dirs.get(e.name)!, FRAMEWORK[e.name]!);
  });

  if (e.deploys) {
    test(`examples/${e.name}: sst.config.ts type-checks against SST's declarations and synthesizes offline with the package's component`, async () => {
      const dir = dirs.get(e.name)!;
      // The app's own .sst, as `sst install` makes it: the platform of the pinned SST.
      mkdirSync(path.join(dir, '.sst'), { recursive: true });
      if (!existsSync(path.join(dir, '.sst', 'platform'))) symlinkSync(path.join(ROOT, '.sst', 'platform'), path.join(dir, '.sst', 'platform'), 'dir');
      copyFileSync(path.join(ROOT, '.sst', 'provider-lock.json'), path.join(dir, '.sst', 'provider-lock.json'));
      const typed = await attempt(process.execPath, [TSC, '-p', 'tsconfig.sst.json'], dir);
      assert.equal(typed.code, 0, typed.out);

      const r = await synthesize({ root: dir, stage: 'production', dev: false });
      assert.deepEqual(r.errors, []);
      const g = new Graph(r.resources);
      assert.equal(g.one('aws:lambda/function:Function').inputs.handler, 'handler.handler');
      const build = r.rpc.find((c) => c.method === 'Runtime.Build');
      assert.equal(build?.args.handler, 'handler.handler');
      // The router image comes from the installed package's own bundle and Dockerfile.
      const image = g.one('docker-build:index:Image');
      const routerDir = realpathSync(path.join(p.project, 'node_modules', 'lambda-dispatch', 'dist', 'router'));
      assert.deepEqual(image.inputs.context, { location: routerDir });
      assert.deepEqual(image.inputs.dockerfile, { location: path.join(routerDir, 'Dockerfile') });
      // SST found the .sst line in the bundle's .dockerignore and wrote nothing into the package.
      assert.equal(readFileSync(path.join(routerDir, '.dockerignore'), 'utf8'), 'Dockerfile\n.dockerignore\n.sst\n');
      if (e.name === 'port-app') assert.deepEqual((build?.args.copyFiles as { to: string }[]).map((c) => c.to), ['server.mjs']);
    });
  }
}

test('examples/python: the container image pattern — the bundle alone serves the routes from what the Dockerfile copies', async () => {
  const dir = dirs.get('python')!;
  const bundled = await attempt('sh', ['-c', script('python', 'bundle')], dir, scriptEnv());
  assert.equal(bundled.code, 0, bundled.out);
  const dockerfile = readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  assert.match(lines.find((l) => l.startsWith('FROM '))!, /^FROM public\.ecr\.aws\/lambda\/nodejs:(22|24)$/, "AWS's Node.js base image for Lambda");
  assert.ok(lines.some((l) => /^RUN dnf install -y python3\b/.test(l)), 'Python installed in the image');
  const copy = lines.find((l) => l.startsWith('COPY '))!.split(/\s+/).slice(1);
  const target = copy.pop();
  assert.equal(target, '${LAMBDA_TASK_ROOT}/');
  const cmd = JSON.parse(lines.find((l) => l.startsWith('CMD '))!.slice(4)) as string[];
  const [module, exported] = cmd[0]!.split('.');
  // A task root holding only what the image gets, far from any node_modules.
  const taskRoot = mkdtempSync(path.join(tmpdir(), 'lambda-dispatch-task-root-'));
  try {
    for (const src of copy) copyFileSync(path.join(dir, src), path.join(taskRoot, path.basename(src)));
    assert.ok(existsSync(path.join(taskRoot, `${module}.mjs`)), `CMD names ${cmd[0]}, and ${module}.mjs is copied`);
    const loaded = await attempt(process.execPath, ['--input-type=module', '-e', `const m = await import('./${module}.mjs'); console.log(typeof m.${exported})`], taskRoot);
    assert.equal(loaded.out.trim().split('\n').pop(), 'function', loaded.out);
    const cli = path.join(p.project, 'node_modules', 'lambda-dispatch', 'dist', 'cli.mjs');
    await serveAndCheck(`node ${cli} local ${module}.mjs --export ${exported}`, taskRoot, /python/);
  } finally {
    rmSync(taskRoot, { recursive: true, force: true });
  }
});
