// SIGTERM to a real router process (ingress/main.ts, as the container runs it) under load: nothing
// is lost. Keep-alive clients loop on /delay; mid-load the router gets SIGTERM. Every request is
// answered — 200, or 503 LD_SHUTTING_DOWN — none is reset, every response after the drain began
// says Connection: close, and the router exits 0. A request that outlives the grace is cut,
// counted in the log, and the exit code says so.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startLocalLambda, type LocalLambda } from '../infra/local/lambda-service.ts';
import { DEMO_FUNCTION } from './stack.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let lambda: LocalLambda;

before(async () => {
  lambda = await startLocalLambda({
    functionName: 'lambda-dispatch-demo',
    handlerModule: DEMO_FUNCTION,
    concurrency: 16,
    timeoutS: 60,
    memoryMb: 512,
    initMs: 0,
  });
});
after(() => lambda.close());

interface RouterChild {
  child: ChildProcess;
  url: string;
  admin: string;
  output: () => string;
  /** Resolves once the router printed `line`; the time the test saw it. */
  saw(line: RegExp): Promise<number>;
  exit: Promise<number | null>;
}

async function startRouter(graceMs: number): Promise<RouterChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ingress/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      AWS_ENDPOINT_URL_LAMBDA: lambda.url,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LAMBDA_DISPATCH_FunctionName: 'lambda-dispatch-demo',
      LAMBDA_DISPATCH_FunctionTimeout: '60',
      LAMBDA_DISPATCH_BindHost: '127.0.0.1',
      LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
      LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0',
      LAMBDA_DISPATCH_AdminPort: '0',
      LAMBDA_DISPATCH_ShutdownGraceMs: String(graceMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const watchers: { line: RegExp; resolve: (t: number) => void }[] = [];
  const onData = (d: Buffer) => {
    output += d.toString();
    for (let i = watchers.length - 1; i >= 0; i--) {
      if (watchers[i]!.line.test(output)) {
        watchers[i]!.resolve(Date.now());
        watchers.splice(i, 1);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const saw = (line: RegExp) => new Promise<number>((resolve) => (line.test(output) ? resolve(Date.now()) : watchers.push({ line, resolve })));
  const started = await Promise.race([saw(/router: http:\/\/\S+ .*admin http/), exit.then(() => null)]);
  if (started === null) throw new Error(`router exited before printing its URL:\n${output}`);
  const m = /router: (http:\/\/\S+) .*admin (http:\/\/[^\s,]+)/.exec(output)!;
  return { child, url: m[1]!, admin: m[2]!, output: () => output, saw, exit };
}

interface Outcome {
  status?: number;
  connection?: string;
  code?: string;
  /** When the response head arrived. */
  at: number;
  error?: string;
}

function get(agent: Agent, url: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(url, { agent }, (res) => {
      const at = Date.now();
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode!, connection: res.headers.connection, code: res.headers['x-lambda-dispatch-error'] as string | undefined, at }),
      );
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ at, error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ at: Date.now(), error: err.code ?? err.message }));
    req.end();
  });
}

test('SIGTERM under keep-alive load: every request answered 200 or 503 with Connection: close, none reset, exit 0', { timeout: 90_000 }, async () => {
  const router = await startRouter(5000);
  const agent = new Agent({ keepAlive: true, maxSockets: 30 });
  const outcomes: Outcome[] = [];
  let stop = false;
  // 30 clients; a short random pause between requests leaves some connections idle at any moment.
  const clients = Array.from({ length: 30 }, async () => {
    while (!stop) {
      const o = await get(agent, `${router.url}/delay?ms=1000`);
      outcomes.push(o);
      // A client told the router is shutting down (or failing) goes away, as a load balancer would.
      if (o.error !== undefined || o.status === 503) return;
      await new Promise((r) => setTimeout(r, Math.random() * 200));
    }
  });
  try {
    // Load for a while (the first requests pay the cold starts), then SIGTERM.
    const loaded = Date.now();
    while (outcomes.filter((o) => o.status === 200).length < 60 && Date.now() - loaded < 30_000) await new Promise((r) => setTimeout(r, 100));
    const killedAt = Date.now();
    router.child.kill('SIGTERM');
    const drainSeen = await router.saw(/SIGTERM, draining/);
    // Health says so at once (a new connection: the listener still answers during the drain).
    const health = await get(new Agent({ keepAlive: true }), `${router.url}/_lambda_dispatch/health`);
    assert.equal(health.status, 503);
    assert.equal(health.connection, 'close');
    const code = await router.exit;
    const exitedAt = Date.now();
    stop = true;
    await Promise.all(clients);

    const errors = outcomes.filter((o) => o.error !== undefined);
    const ok = outcomes.filter((o) => o.status === 200);
    const refused = outcomes.filter((o) => o.status === 503);
    const keepAliveAfterDrain = outcomes.filter((o) => o.status !== undefined && o.at > drainSeen && o.connection !== 'close');
    console.log(
      `drain under load: ${ok.length} × 200, ${refused.length} × 503, ${errors.length} errors; exit ${code} ${exitedAt - killedAt} ms after SIGTERM`,
    );
    assert.deepEqual(errors.map((o) => o.error), [], 'no request was reset or refused');
    assert.deepEqual(outcomes.filter((o) => o.status !== 200 && o.status !== 503), []);
    for (const o of refused) assert.equal(o.code, 'LD_SHUTTING_DOWN');
    assert.equal(keepAliveAfterDrain.length, 0, 'every response after the drain began says Connection: close');
    assert.ok(refused.length >= 1 && ok.length >= 60);
    assert.equal(code, 0, router.output());
    assert.match(router.output(), /nothing cut/);
    // The clients left once told, so the router did not wait out the grace (5 s) plus the dispatcher's stop.
    assert.ok(exitedAt - killedAt < 12_000, `exit took ${exitedAt - killedAt} ms`);
  } finally {
    stop = true;
    agent.destroy();
    if (router.child.exitCode === null) router.child.kill('SIGKILL');
  }
});

test('a request that outlives the grace is cut: 503 for its client, counted in the log, exit 1', { timeout: 60_000 }, async () => {
  const router = await startRouter(1500);
  const agent = new Agent({ keepAlive: true });
  try {
    // Warm: the slow request must be in flight, not waiting for a cold start, when SIGTERM comes.
    assert.equal((await get(agent, `${router.url}/ping`)).status, 200);
    const slow = get(agent, `${router.url}/delay?ms=20000`);
    for (let i = 0; i < 100; i++) {
      const s = (await (await fetch(`${router.admin}/_lambda_dispatch/status`)).json()) as { inFlight: number };
      if (s.inFlight === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const killedAt = Date.now();
    router.child.kill('SIGTERM');
    const o = await slow;
    assert.equal(o.status, 503, JSON.stringify(o));
    assert.equal(o.code, 'LD_SHUTTING_DOWN');
    assert.equal(o.connection, 'close');
    assert.ok(o.at - killedAt >= 1000, `answered ${o.at - killedAt} ms after SIGTERM, before the grace ended`);
    const code = await router.exit;
    assert.equal(code, 1, router.output());
    assert.match(router.output(), /drain: 1 request\(s\) cut at the end of the 1500 ms grace \(1 answered 503 before their response began, 0 reset mid-response\)/);
  } finally {
    agent.destroy();
    if (router.child.exitCode === null) router.child.kill('SIGKILL');
  }
});
