// Container worker mode against the test router (which checks worker headers and the shared
// secret like the real one), and the `lambda-dispatch worker` CLI as a real process.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { demoApp } from '../demo/app.ts';
import { serveDemo } from '../demo/serve.ts';
import { parseWorkerArgs, UsageError } from './cli.ts';
import { closeLocalServers } from './handler.ts';
import { TestRouter } from './test-router.ts';
import { startWorker, type WorkerOptions } from './worker.ts';

const SECRET = 'a-shared-secret-of-some-length';
const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

after(() => closeLocalServers());

function opts(router: TestRouter, o: Partial<WorkerOptions> = {}): WorkerOptions {
  return { routerUrl: router.url, ...(router.certSha256 !== undefined ? { routerCertSha256: router.certSha256 } : {}), secret: SECRET, maxConcurrent: 2, channels: 3, log: () => {}, backoffInitialMs: 20, backoffMaxMs: 200, ...o };
}

describe('container worker', () => {
  test('registers every channel with the worker id, index and capacity, and serves requests', async () => {
    const router = await new TestRouter({ workerSecret: SECRET }).start();
    const worker = await startWorker(demoApp, opts(router, { workerId: 'box-1' }));
    try {
      const chans = await router.open(3);
      assert.deepEqual(chans.map((c) => c.index), [0, 1, 2]);
      for (const c of chans) {
        assert.equal(c.workerId, 'box-1');
        assert.equal(c.maxConcurrent, 2);
      }
      chans[1]!.request(1, 'GET', '/ping');
      assert.equal((await chans[1]!.response(1)).body.toString(), 'pong');
      assert.deepEqual({ ...worker.status(), workerId: undefined }, { workerId: undefined, open: 3, inFlight: 0, requests: 1, connects: 3 });
    } finally {
      await worker.stop(1000);
      await router.close();
    }
  });

  test('a worker that names its function serves only a router that honours the name; an older one is left at once, said once, and retried', async () => {
    // A router of today announces `function`: the channels open and serve.
    const current = await new TestRouter({ workerSecret: SECRET }).start();
    const named = await startWorker(demoApp, opts(current, { functionName: 'images', maxConcurrent: 1, channels: 1 }));
    try {
      const [ch] = await current.open(1);
      ch!.request(1, 'GET', '/ping');
      assert.equal((await ch!.response(1)).body.toString(), 'pong');
    } finally {
      await named.stop(1000);
      await current.close();
    }
    // An older one (no features) would put it in its first function's fleet: every channel is
    // dropped before a request can come, with one line saying why, and tried again.
    const older = await new TestRouter({ workerSecret: SECRET, features: [] }).start();
    const logs: string[] = [];
    const worker = await startWorker(demoApp, opts(older, { functionName: 'images', maxConcurrent: 1, channels: 1, log: (m) => logs.push(m) }));
    try {
      while (older.upgrades < 3) await new Promise((r) => setTimeout(r, 20));
      assert.equal(worker.status().connects, 0, 'never counted as connected');
      assert.equal(logs.length, 1, logs.join(' | '));
      assert.match(logs[0]!, /does not honour a function name.*in place of images's/);
    } finally {
      await worker.stop(1000);
      await older.close();
    }
    await assert.rejects(startWorker(demoApp, opts(older, { functionName: 'a b' })), /functionName must be a function's name/);
  });

  test('a bad secret (401) and a router without worker mode (503) are reported clearly, and retried', async () => {
    for (const [routerOpts, status, hint] of [
      [{ workerSecret: 'another-secret-entirely' }, 401, /refused the worker secret/],
      [{}, 503, /does not accept container workers/],
    ] as const) {
      const router = await new TestRouter(routerOpts).start();
      const logs: string[] = [];
      const worker = await startWorker(demoApp, opts(router, { channels: 2, log: (m) => logs.push(m) }));
      try {
        // Refusals keep coming: the worker retries rather than giving up.
        while (router.refused.length < 6) await new Promise((r) => setTimeout(r, 20));
        assert.ok(router.refused.every((s) => s === status));
        assert.equal(logs.length, 1, `one line for a repeated problem: ${logs.join(' | ')}`);
        assert.match(logs[0]!, hint);
        assert.match(logs[0]!, new RegExp(String(status)));
      } finally {
        await worker.stop(1000);
        await router.close();
      }
    }
  });

  test('GOAWAY (router shutting down) closes the channel; it comes back once the router is there', async () => {
    const router = await new TestRouter({ workerSecret: SECRET }).start();
    const worker = await startWorker(demoApp, opts(router, { channels: 2 }));
    try {
      const chans = await router.open(2);
      chans[0]!.send({ type: 'goaway' });
      assert.equal((await chans[0]!.closed).code, 1000);
      const [again] = await router.open(1);
      assert.equal(again!.index, 0);
      again!.request(1, 'GET', '/ping');
      assert.equal((await again!.response(1)).body.toString(), 'pong');
    } finally {
      await worker.stop(1000);
      await router.close();
    }
  });

  test('the router restarts on the same address: the worker reconnects and serves again', async () => {
    let router = await new TestRouter({ workerSecret: SECRET }).start();
    const port = router.port;
    const worker = await startWorker(demoApp, opts(router, { channels: 2 }));
    try {
      await router.open(2);
      await router.close();
      // Down for a while: connection attempts are refused at the TCP level meanwhile.
      await new Promise((r) => setTimeout(r, 300));
      router = await new TestRouter({ workerSecret: SECRET, port }).start();
      const chans = await router.open(2, 10_000);
      chans[0]!.request(1, 'GET', '/ping');
      assert.equal((await chans[0]!.response(1)).body.toString(), 'pong');
      assert.ok(worker.status().connects >= 4);
    } finally {
      await worker.stop(1000);
      await router.close();
    }
  });

  test('stop(): CLOSE_REQUEST "shutdown", the in-flight request finishes, then every channel closes', async () => {
    const router = await new TestRouter({ workerSecret: SECRET }).start();
    const worker = await startWorker(demoApp, opts(router, { channels: 2 }));
    try {
      const [a, b] = await router.open(2);
      a!.request(1, 'GET', '/delay?ms=300');
      await new Promise((r) => setTimeout(r, 50));
      const stopped = worker.stop(10_000);
      assert.deepEqual(await b!.next(), { type: 'close-request', reason: 'shutdown' });
      const r = await a!.response(1);
      assert.equal(r.body.toString(), 'delayed 300');
      assert.deepEqual(a!.closeRequests, ['shutdown']);
      await stopped;
      assert.equal((await a!.closed).code, 1000);
      assert.equal((await b!.closed).code, 1000);
    } finally {
      await router.close();
    }
  });
});

describe('lambda-dispatch worker (CLI)', () => {
  test('arguments: env fallbacks and clear errors', () => {
    const env = { LAMBDA_DISPATCH_WorkerSecret: SECRET, LAMBDA_DISPATCH_RouterUrl: 'ws://r:5003' };
    const c = parseWorkerArgs(['worker', '--port', '8080', '--command', 'python app.py'], env);
    assert.deepEqual(c.app, { port: 8080, healthPath: undefined, command: 'python app.py' });
    assert.equal(c.routerUrl, 'ws://r:5003');
    assert.deepEqual(parseWorkerArgs(['worker', '--module', 'app.js'], env).app, { module: 'app.js', export: 'default' });
    assert.deepEqual(parseWorkerArgs(['worker'], { ...env, LAMBDA_DISPATCH_PORT: '3001' }).app, { port: 3001, healthPath: undefined, command: undefined });
    const bad: [string[], Record<string, string>, RegExp][] = [
      [['serve'], env, /unknown command "serve"/],
      [['worker', '--port', '80'], { LAMBDA_DISPATCH_WorkerSecret: SECRET }, /router URL is required/],
      [['worker', '--router', 'http://x', '--port', '80'], env, /must be ws:\/\/ or wss:\/\//],
      [['worker', '--port', '80'], { LAMBDA_DISPATCH_RouterUrl: 'ws://r' }, /LAMBDA_DISPATCH_WorkerSecret must be set/],
      [['worker'], env, /the app is required: --port P/],
      [['worker', '--port', 'eighty'], env, /--port must be an integer/],
      [['worker', '--module', 'a.js', '--port', '1'], env, /cannot be combined/],
      [['worker', '--port', '1', '--channels', '2', '--max-concurrent', '4'], env, /--channels \(2\) must be at least --max-concurrent \(4\)/],
      [['worker', '--port', '1', '--bogus'], env, /Unknown option '--bogus'/],
    ];
    for (const [args, e, re] of bad) assert.throws(() => parseWorkerArgs(args, e), (err: Error) => err instanceof UsageError && re.test(err.message), args.join(' '));
  });

  test('a real process: serves a { port } app for the router; SIGTERM finishes in-flight work and exits 0', async () => {
    const router = await new TestRouter({ workerSecret: SECRET }).start();
    const app = await serveDemo(0);
    const { port } = app.address() as AddressInfo;
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--router', router.url, '--router-cert-sha256', router.certSha256!, '--port', String(port), '--health-path', '/health', '--max-concurrent', '2'], {
      env: { ...process.env, LAMBDA_DISPATCH_WorkerSecret: SECRET },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const chans = await router.open(2, 20_000);
      chans[0]!.request(1, 'GET', '/delay?ms=300');
      await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGTERM');
      assert.equal((await chans[0]!.response(1)).body.toString(), 'delayed 300');
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /SIGTERM: finishing in-flight requests/);
    } finally {
      child.kill('SIGKILL');
      app.closeAllConnections();
      app.close();
      await router.close();
    }
  });

  test('bad arguments exit 2 with the reason and the usage', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--port', '1'], {
      env: { ...process.env, LAMBDA_DISPATCH_WorkerSecret: '', LAMBDA_DISPATCH_RouterUrl: 'ws://127.0.0.1:1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 2);
    assert.match(stderr, /LAMBDA_DISPATCH_WorkerSecret must be set/);
    assert.match(stderr, /usage: lambda-dispatch worker/);
  });
});

