// The package as a user installs it: `npm pack` of this repository, the tarball installed into an
// empty project (packed.ts, shared with the examples' test), and there the three library entries
// imported with plain node and type-checked with tsc, the bin's --help, and a request served by
// `npx lambda-dispatch local handler.mjs`. Also what goes into the tarball: built files only, the
// size the README states, and no runtime import of anything the package does not depend on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { builtinModules } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCommand } from './command.ts';
import { cleanEnv, packed, ROOT } from './package/packed.ts';

const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  private?: boolean;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bin: Record<string, string>;
  exports: Record<string, unknown>;
};

async function attempt(cmd: string, args: string[], cwd: string, env = cleanEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCommand(cmd, args, { cwd, env, timeoutMs: 180_000 });
}

/** The package names a built file imports (static imports, literal dynamic imports and require calls). */
function importedPackages(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const out = new Set<string>();
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/gm),
    ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
    ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    // Not inside a string: a code generator's template (ajv's) is no import.
    ...text.matchAll(/(?<![\w$.'"`])(?:__)?require\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]!);
  for (const spec of specifiers) {
    if (spec.startsWith('.')) continue;
    if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) continue;
    out.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
  }
  return out;
}

test('the package is publishable: not private, a bin, the three entries with types', () => {
  assert.equal(manifest.private, undefined);
  assert.equal(manifest.bin['lambda-dispatch'], 'dist/cli.mjs');
  for (const entry of ['./extension', './router', './sst']) {
    const e = manifest.exports[entry] as { types: string; default: string };
    assert.match(e.types, /^\.\/dist\/types\/.*\.d\.ts$/, `${entry} has declarations`);
    assert.match(e.default, /^\.\/dist\/.*\.(m?js)$/, `${entry} is built JavaScript`);
  }
  const overlap = Object.keys(manifest.dependencies).filter((d) => d in manifest.devDependencies);
  assert.deepEqual(overlap, [], 'a package is either a runtime or a dev dependency');
});

test('npm pack: built files and the README only, at the unpacked size the README states', async () => {
  const p = await packed();
  const paths = p.files.map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'dist/cli.mjs', 'dist/extension.mjs', 'dist/local-environment.mjs', 'dist/sst/index.js', 'dist/router/index.js', 'dist/router/main.js', 'dist/router/dispatcher-thread.js', 'dist/router/Dockerfile', 'dist/router/dashboard/index.html', 'dist/types/extension/index.d.ts']) {
    assert.ok(paths.includes(f), `${f} is in the tarball`);
  }
  const stray = paths.filter((f) => !(f === 'package.json' || f === 'README.md' || f.startsWith('dist/')) || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts') || f.startsWith('dist/lambda/'));
  assert.deepEqual(stray, [], 'no sources, source maps, tests or the demo function');
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const stated = /unpacked size of about ([\d.]+) MB/.exec(readme);
  assert.ok(stated, 'the README states the unpacked size ("unpacked size of about N MB")');
  const mb = p.unpackedSize / 1e6;
  assert.ok(Math.abs(mb - Number(stated[1])) <= 0.5, `README says ${stated[1]} MB, npm pack says ${mb.toFixed(2)} MB`);
});

test('no dev dependency leaks: the built entries import only Node, the package itself and its runtime dependencies', async () => {
  const p = await packed();
  const installed = path.join(p.project, 'node_modules', 'lambda-dispatch');
  const runtime = new Set([...Object.keys(manifest.dependencies), ...Object.keys(manifest.optionalDependencies ?? {})]);
  // Loaded when present, in a try: tsx by the local Lambda for a TypeScript handler (a .mjs needs
  // none), and ws's native accelerators.
  const optionalAtRunTime = new Set(['tsx', 'bufferutil', 'utf-8-validate']);
  // The router bundle (dist/router/) is self-contained, its optional requires in try blocks
  // included; infra/build.test.ts runs it with node alone, no node_modules in reach.
  const entries = p.files.map((x) => x.path).filter((x) => /\.(m?js)$/.test(x) && !x.startsWith('dist/router/'));
  assert.deepEqual(entries.sort(), ['dist/cli.mjs', 'dist/extension.mjs', 'dist/local-environment.mjs', 'dist/sst/index.js']);
  const seen = new Set<string>();
  for (const f of entries) {
    for (const pkg of importedPackages(path.join(installed, f))) {
      seen.add(pkg);
      assert.ok(runtime.has(pkg) || optionalAtRunTime.has(pkg), `${f} imports ${pkg}, which is not a runtime dependency`);
      assert.ok(!(pkg in manifest.devDependencies) || optionalAtRunTime.has(pkg), `${f} imports the dev dependency ${pkg}`);
    }
  }
  // The scan finds imports: the CLI's argument parser and the extension's WebSocket client.
  for (const pkg of ['commander', 'ws']) assert.ok(seen.has(pkg), `${pkg} was found`);
});

test('installed from the tarball: plain node imports lambda-dispatch/extension, /sst and /router', async () => {
  const p = await packed();
  const script = `
    const ext = await import('lambda-dispatch/extension');
    const sst = await import('lambda-dispatch/sst');
    const router = await import('lambda-dispatch/router');
    let outside = '';
    try { new sst.LambdaDispatch('X', { function: { handler: 'h.handler' } }); } catch (err) { outside = err.message; }
    const h = ext.createHandler((req, res) => res.end('ok'));
    console.log(JSON.stringify({ createHandler: typeof ext.createHandler, startWorker: typeof ext.startWorker, handler: typeof h, component: typeof sst.LambdaDispatch, outside, startRouter: typeof router.startRouter, port: sst.ROUTER_HTTP_PORT }));
    await ext.closeLocalServers();
  `;
  const r = await attempt(process.execPath, ['--input-type=module', '-e', script], p.project);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.deepEqual(out, {
    createHandler: 'function',
    startWorker: 'function',
    handler: 'function',
    component: 'function',
    outside: 'lambda-dispatch/sst: construct LambdaDispatch inside run() of an SST app (sst.config.ts)',
    startRouter: 'function',
    port: 5001,
  });
});

test('installed from the tarball: tsc resolves the types of every entry, and a wrong use fails', async () => {
  const p = await packed();
  const dir = path.join(p.project, 'typed');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, include: ['*.ts'] }),
  );
  writeFileSync(
    path.join(dir, 'good.ts'),
    `import { createHandler, startWorker, type App, type ExtensionOptions, type WorkerOptions } from 'lambda-dispatch/extension';
import { startRouter, routerConfig, type Router } from 'lambda-dispatch/router';
import type { LambdaDispatchArgs } from 'lambda-dispatch/sst';
const app: App = (req, res) => res.end(req.url);
const options: ExtensionOptions = {};
export const handler = createHandler(app, options);
export const worker: (o: WorkerOptions) => ReturnType<typeof startWorker> = (o) => startWorker({ port: 3000 }, o);
export const start: () => Promise<Router> = () => startRouter({ config: routerConfig({ LAMBDA_DISPATCH_FunctionName: 'f' }) });
export const args: LambdaDispatchArgs = { function: { handler: 'handler.handler', timeout: 30 } };
`,
  );
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  const good = await attempt(process.execPath, [tsc, '-p', dir], dir);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  // The types are real ones, not `any`: wrong uses of each entry are errors.
  writeFileSync(
    path.join(dir, 'bad.ts'),
    `import { createHandler } from 'lambda-dispatch/extension';
import { startRouter } from 'lambda-dispatch/router';
import type { LambdaDispatchArgs } from 'lambda-dispatch/sst';
export const handler = createHandler(42);
export const r = startRouter({ bindHost: 7 });
export const args: LambdaDispatchArgs = { function: { handler: 'h.handler', timeout: 'long' } };
`,
  );
  const bad = await attempt(process.execPath, [tsc, '-p', dir], dir);
  assert.notEqual(bad.code, 0);
  const errors = (bad.stdout + bad.stderr).split('\n').filter((l) => l.startsWith('bad.ts('));
  assert.equal(errors.length, 3, bad.stdout);
  for (const line of ['bad.ts(4,', 'bad.ts(5,', 'bad.ts(6,']) assert.ok(errors.some((e) => e.startsWith(line)), `${line} is an error:\n${bad.stdout}`);
});

test('installed from the tarball: npx lambda-dispatch --help names router, worker and local; a bad flag exits 2', async () => {
  const p = await packed();
  const help = await attempt('npx', ['lambda-dispatch', '--help'], p.project);
  assert.equal(help.code, 0, help.stderr);
  for (const cmd of ['router', 'worker', 'local']) assert.match(help.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), help.stdout);
  const local = await attempt('npx', ['lambda-dispatch', 'local', '--help'], p.project);
  assert.match(local.stdout, /Usage: lambda-dispatch local \[options\] <handler>/);
  const bad = await attempt('npx', ['lambda-dispatch', 'worker', '--no-such-flag'], p.project);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option '--no-such-flag'/);
});

test('installed from the tarball: npx lambda-dispatch local handler.mjs serves a request, and Ctrl-C stops it cleanly', async () => {
  const p = await packed();
  writeFileSync(
    path.join(p.project, 'handler.mjs'),
    `import { createHandler } from 'lambda-dispatch/extension';
export const handler = createHandler((req, res) => res.end('hello from ' + req.url));
`,
  );
  const child = spawn('npx', ['lambda-dispatch', 'local', 'handler.mjs', '--port', '0', '--admin-port', '0'], {
    cwd: p.project,
    // fetch keeps its connection open, and the drain waits for clients to leave at most this long.
    env: cleanEnv({ LAMBDA_DISPATCH_ShutdownGraceMs: '2000' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await waitFor(() => /^router\s+(http:\/\/\S+)/m.exec(output)?.[1], 60_000, () => output);
    const res = await fetch(`${url}/greeting?x=1`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(res.status, 200, output);
    assert.equal(await res.text(), 'hello from /greeting?x=1');
  } finally {
    // Ctrl-C reaches the whole group: npm's exec and the CLI under it.
    process.kill(-child.pid!, 'SIGINT');
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 30_000);
    await exit;
    // npm's exec ends on the signal itself; the CLI under it drains and stops the local Lambda.
    await waitFor(() => (groupAlive(child.pid!) ? undefined : true), 30_000, () => `process group ${child.pid} still has processes:\n${output}`);
    clearTimeout(timer);
  }
  assert.match(output, /drained in \d+ ms, nothing cut/);
  assert.match(output, /environment env-1 ended/);
});

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(probe: () => T | undefined, ms: number, describe: () => string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`not within ${ms} ms:\n${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('installed from the tarball: lambda-dispatch/router starts a router in code, and `lambda-dispatch worker` serves through it as a container worker', async () => {
  const p = await packed();
  const installed = path.join(p.project, 'node_modules', 'lambda-dispatch');
  const { startRouter, routerConfig } = (await import(pathToFileURL(path.join(installed, 'dist/router/index.js')).href)) as typeof import('./package/router.ts');
  const secret = 'a-worker-secret-of-some-length';
  const router = await startRouter({
    config: routerConfig({
      LAMBDA_DISPATCH_FunctionName: 'no-lambda-here',
      LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
      LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0',
      LAMBDA_DISPATCH_AdminPort: '0',
      LAMBDA_DISPATCH_WorkerSecret: secret,
      LAMBDA_DISPATCH_LogLevel: 'silent',
    }),
    bindHost: '127.0.0.1',
  });
  writeFileSync(path.join(p.project, 'worker-app.mjs'), `export default (req, res) => res.end('worker served ' + req.url);\n`);
  const bin = path.join(p.project, 'node_modules', '.bin', 'lambda-dispatch');
  const worker = spawn(bin, ['worker', '--router', `wss://127.0.0.1:${router.controlPort}`, '--router-cert-sha256', router.certSha256!, '--module', 'worker-app.mjs', '--max-concurrent', '2'], {
    cwd: p.project,
    env: cleanEnv({ LAMBDA_DISPATCH_WorkerSecret: secret }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  worker.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  worker.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  try {
    const until = Date.now() + 30_000;
    while ((await router.status()).workers.connected === 0) {
      assert.ok(Date.now() < until, `the worker did not register within 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await fetch(`${router.url}/from-the-package`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(res.status, 200, output);
    assert.equal(await res.text(), 'worker served /from-the-package');
  } finally {
    worker.kill('SIGTERM');
    const code = await exit;
    await router.close(2000);
    assert.equal(code, 0, output);
  }
});

test('installed from the tarball: `lambda-dispatch router` starts from flags, answers its health check and drains on SIGTERM', async () => {
  const p = await packed();
  const bin = path.join(p.project, 'node_modules', '.bin', 'lambda-dispatch');
  const child = spawn(bin, ['router', '--function', 'my-fn', '--port', '0', '--control-port', '0', '--admin-port', '0', '--bind', '127.0.0.1'], {
    cwd: p.project,
    env: cleanEnv({ LAMBDA_DISPATCH_ShutdownGraceMs: '1000' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await waitFor(() => /lambda-dispatch router: (http:\/\/\S+)/.exec(output)?.[1], 30_000, () => output);
    assert.match(output, /function my-fn\)/);
    const health = await fetch(`${url}/_lambda_dispatch/health`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(health.status, 200);
  } finally {
    child.kill('SIGTERM');
    const code = await exit;
    assert.equal(code, 0, output);
  }
});
