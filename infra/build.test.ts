// `npm run build` makes bundles that run with node alone: the router answers its health check and
// drains on SIGTERM, and with the function bundle in the local Lambda, /ping answers pong through
// both. The bundles go to a temporary directory outside the app, so no node_modules is in reach.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mustRun } from './command.ts';
import { startLocalLambda } from './local/lambda-service.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const out = mkdtempSync(path.join(tmpdir(), 'lambda-dispatch-build-'));
after(() => rmSync(out, { recursive: true, force: true }));

const built = (async () => {
  // The command behind `npm run build`, as a user runs it.
  const started = Date.now();
  await mustRun(process.execPath, ['--import', 'tsx', path.join(ROOT, 'infra/build.ts'), '--outdir', out], { cwd: ROOT, timeoutMs: 180_000 });
  return Date.now() - started;
})();

/** A clean environment: nothing that would load tsx or find the app's node_modules. */
function routerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
    LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0',
    LAMBDA_DISPATCH_AdminPort: '0',
    // fetch keeps its connections open; the drain waits for them at most this long.
    LAMBDA_DISPATCH_ShutdownGraceMs: '2000',
    LAMBDA_DISPATCH_BindHost: '127.0.0.1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
  exit: Promise<number | null>;
}

async function startRouterBundle(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, ['main.js'], { cwd: path.join(out, 'router'), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`router bundle printed no URL within 15 s:\n${output}`)), 15_000);
    const onData = () => {
      const m = /lambda-dispatch router: (http:\/\/\S+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    void exit.then((code) => reject(new Error(`router bundle exited (${code}) before printing its URL:\n${output}`)));
  });
  return { child, url, output: () => output, exit };
}

async function stop(r: Started): Promise<number | null> {
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 15_000);
  const code = await r.exit;
  clearTimeout(timer);
  return code;
}

test('npm run build writes the router and function bundles with source maps', async () => {
  const ms = await built;
  for (const f of ['router/main.js', 'router/main.js.map', 'router/dispatcher-thread.js', 'router/dispatcher-thread.js.map', 'router/package.json', 'lambda/index.mjs', 'lambda/index.mjs.map']) {
    assert.ok(existsSync(path.join(out, f)), `${f} is missing`);
  }
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'router/package.json'), 'utf8')), { type: 'module' });
  const { stdout } = await mustRun(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import(${JSON.stringify(path.join(out, 'lambda/index.mjs'))}); console.log(typeof m.handler)`],
    { cwd: out, env: routerEnv({}), timeoutMs: 60_000 },
  );
  assert.equal(stdout.trim(), 'function', 'dist/lambda/index.mjs exports handler');
  assert.ok(ms < 60_000, `build took ${ms} ms`);
});

test('the router bundle starts with node alone, answers its health check, serves the dashboard and exits 0 on SIGTERM', async () => {
  await built;
  const router = await startRouterBundle(routerEnv({}));
  try {
    const res = await fetch(`${router.url}/_lambda_dispatch/health`);
    assert.equal(res.status, 200);
    assert.equal((await res.text()).trim(), 'ok');
    // The dashboard's files come from dist/router/dashboard/, not from the sources or node_modules.
    const admin = /admin (http:\/\/[^\s,]+)/.exec(router.output())![1];
    for (const file of ['', '/uplot.js', '/uplot.css', '/quantiles.js', '/live.json']) {
      const r = await fetch(`${admin}/_lambda_dispatch/dashboard${file}`);
      const body = await r.text();
      assert.equal(r.status, 200, `dashboard${file}: ${body}`);
    }
  } finally {
    const code = await stop(router);
    assert.equal(code, 0, router.output());
  }
  assert.match(router.output(), /SIGTERM, draining/);
});

test('/ping answers pong through both bundles: the router bundle invoking the function bundle in the local Lambda', async () => {
  await built;
  const lambda = await startLocalLambda({
    functionName: 'lambda-dispatch-demo',
    handlerModule: path.join(out, 'lambda/index.mjs'),
    concurrency: 4,
    timeoutS: 60,
    memoryMb: 512,
    initMs: 0,
  });
  let router: Started | undefined;
  try {
    router = await startRouterBundle(
      routerEnv({
        LAMBDA_DISPATCH_FunctionName: 'lambda-dispatch-demo',
        LAMBDA_DISPATCH_FunctionTimeout: '60',
        AWS_ENDPOINT_URL_LAMBDA: lambda.url,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
      }),
    );
    const res = await fetch(`${router.url}/ping`);
    assert.equal(res.status, 200, router.output());
    assert.equal(await res.text(), 'pong');
    assert.equal(lambda.stats().environments.length, 1, 'one environment loaded the function bundle');
  } finally {
    if (router) assert.equal(await stop(router), 0, router.output());
    await lambda.close();
  }
  // The router released its instance while draining, so the invocation has returned.
  const ledger = lambda.ledger();
  assert.equal(ledger.invocations, 1);
  assert.equal(ledger.coldStarts, 1);
  assert.equal(ledger.errors, 0);
});

test('the image build context (.dockerignore) holds every source the router bundle is made from', async () => {
  const { build } = await import('./build.ts');
  const scratch = mkdtempSync(path.join(tmpdir(), 'lambda-dispatch-inputs-'));
  try {
    const { routerInputs } = await build({ outdir: scratch });
    const rules = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    // Docker's rules: the last matching pattern decides, `!` re-includes, a pattern that names a
    // directory covers what is inside it.
    const matches = (file: string, pattern: string) => globToRegExp(pattern).test(file);
    const inContext = (file: string) => {
      let included = true;
      for (const rule of rules) {
        const negated = rule.startsWith('!');
        if (matches(file, negated ? rule.slice(1) : rule)) included = negated;
      }
      return included;
    };
    const sources = routerInputs.filter((p) => !p.startsWith('node_modules'));
    assert.ok(sources.length > 10);
    for (const file of [...sources, 'package.json', 'package-lock.json', 'infra/build.ts']) {
      assert.ok(inContext(file), `${file} is excluded from the image's build context by .dockerignore`);
    }
    for (const file of ['node_modules/ws/index.js', '.sst/platform/version', 'dist/router/main.js', 'core/ring.test.ts']) {
      assert.ok(!inContext(file), `${file} should stay out of the build context`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

/** `**` any depth (dot-files included, as in Docker), `*` within a segment; a match also covers what is below it. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(?:/.*)?$`);
}

test('infra/router.Dockerfile: multi-stage, node slim 22/24, non-root, copies the bundle, drains on SIGTERM, health check', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'infra/router.Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const froms = lines.filter((l) => l.startsWith('FROM '));
  assert.equal(froms.length, 2, 'a build stage and a runtime stage');
  assert.match(dockerfile, /^ARG NODE_VERSION=(22|24)$/m);
  for (const from of froms) assert.match(from, /node:\$\{NODE_VERSION\}-slim/);
  const runtime = lines.slice(lines.indexOf(froms[1]!));
  assert.ok(runtime.some((l) => l === 'USER node'), 'runs as the unprivileged node user');
  assert.ok(!runtime.some((l) => l.startsWith('RUN ')), 'the runtime stage has no RUN step (no emulation for another architecture)');
  assert.ok(runtime.some((l) => /^COPY --from=build .*\/app\/dist\/router\/ \.\/$/.test(l)), 'copies what npm run build writes to dist/router');
  assert.ok(runtime.some((l) => l === 'STOPSIGNAL SIGTERM'));
  assert.ok(runtime.some((l) => l.startsWith('HEALTHCHECK ')) && dockerfile.includes('/_lambda_dispatch/health'));
  assert.ok(runtime.some((l) => l === 'CMD ["node", "--enable-source-maps", "main.js"]'));
  assert.match(dockerfile, /RUN npm run build/);
});

test('the package entries are built: the bin with its hashbang, the extension, the SST component, declarations, the router image', async () => {
  await built;
  const cli = path.join(out, 'cli.mjs');
  assert.match(readFileSync(cli, 'utf8').split('\n')[0]!, /^#!\/usr\/bin\/env node/);
  for (const f of ['extension.mjs', 'local-environment.mjs', 'sst/index.js', 'router/index.js', 'types/extension/index.d.ts', 'types/infra/package/router.d.ts', 'types/infra/sst/lambda-dispatch.d.ts']) {
    assert.ok(existsSync(path.join(out, f)), `${f} is missing`);
  }
  // The declarations name the built files (.js), which TypeScript maps to their .d.ts.
  const dts = readFileSync(path.join(out, 'types/extension/index.d.ts'), 'utf8');
  assert.match(dts, /from '\.\/handler\.js'/);
  assert.doesNotMatch(dts, /\.ts'/);
  // The SST component looks for the router image inside the installed package, not in this repository.
  const sst = readFileSync(path.join(out, 'sst/index.js'), 'utf8');
  assert.match(sst, /lambda-dispatch\/package\.json/);
  assert.doesNotMatch(sst, /infra\/router\.Dockerfile/);
  // The CLI runs the router bundle beside it rather than carrying a copy.
  assert.match(readFileSync(cli, 'utf8'), /import\("\.\/router\/index\.js"\)/);
  // The package's router image needs no build stage: the bundle is its context.
  const dockerfile = readFileSync(path.join(out, 'router/Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  assert.equal(lines.filter((l) => l.startsWith('FROM ')).length, 1);
  assert.ok(!lines.some((l) => l.startsWith('RUN ')));
  assert.ok(lines.includes('USER node') && lines.includes('STOPSIGNAL SIGTERM'));
  assert.ok(lines.includes('CMD ["node", "--enable-source-maps", "main.js"]'));
  // The context's .dockerignore already has `.sst`, so SST writes nothing into node_modules.
  assert.match(readFileSync(path.join(out, 'router/.dockerignore'), 'utf8'), /^\.sst$/m);
});
