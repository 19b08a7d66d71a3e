// Whole-system test of container worker mode: a worker (the demo app in this process) registered
// with the router as permanent capacity, the local Lambda behind it for the rest. At low load no
// Lambda is invoked; above the worker's capacity Lambda instances start; after the router is
// killed and restarted on the same address, the worker reconnects and serves again. The control
// channel is wss:// with the router's certificate given as files, so the pin the worker holds
// survives the restart (a generated certificate would change with it).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { loadRouterConfig } from '../core/config.ts';
import { generateControlTls } from '../core/dispatcher/control-tls.ts';
import { demoApp } from '../demo/app.ts';
import { closeLocalServers } from '../extension/handler.ts';
import { startWorker } from '../extension/worker.ts';
import { startRouter, type Router } from '../ingress/router.ts';
import { startLocalLambda } from '../infra/local/lambda-service.ts';
import { DEMO_FUNCTION, waitFor } from './stack.ts';

const SECRET = 'worker-secret-for-the-whole-stack-test';

function call(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Where a /whoami answer came from: 'local' is this process (the worker), else a Lambda environment. */
const whereServed = (body: string) => (JSON.parse(body) as { env: string }).env;

describe('container worker + Lambda', () => {
  test('workers first, Lambda beyond them, and the worker survives a router restart', async () => {
    const lambda = await startLocalLambda({ functionName: 'lambda-dispatch-demo', handlerModule: DEMO_FUNCTION, concurrency: 8, timeoutS: 60, memoryMb: 512, initMs: 0 });
    process.env.AWS_ACCESS_KEY_ID = 'local';
    process.env.AWS_SECRET_ACCESS_KEY = 'local';
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    const controlPort = await freePort();
    const tls = await generateControlTls();
    const dir = mkdtempSync(join(tmpdir(), 'ld-worker-tls-'));
    writeFileSync(join(dir, 'router.crt'), tls.cert);
    writeFileSync(join(dir, 'router.key'), tls.key, { mode: 0o600 });
    const config = loadRouterConfig({
      LAMBDA_DISPATCH_TlsCertFile: join(dir, 'router.crt'),
      LAMBDA_DISPATCH_TlsKeyFile: join(dir, 'router.key'),
      LAMBDA_DISPATCH_FunctionName: 'lambda-dispatch-demo',
      LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
      LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: String(controlPort),
      LAMBDA_DISPATCH_AdminPort: '0',
      LAMBDA_DISPATCH_PingIntervalMs: '500',
      LAMBDA_DISPATCH_MaxConcurrentCount: '4',
      LAMBDA_DISPATCH_ChannelCount: '4',
      LAMBDA_DISPATCH_WorkerSecret: SECRET,
      AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    });
    const logs: string[] = [];
    let router: Router = await startRouter({ config, bindHost: '127.0.0.1', log: (l) => logs.push(l) });
    assert.equal(router.certSha256, tls.certSha256, 'the router serves the given certificate');
    const workerLogs: string[] = [];
    const worker = await startWorker(demoApp, {
      routerUrl: `wss://127.0.0.1:${controlPort}`,
      routerCertSha256: tls.certSha256,
      secret: SECRET,
      maxConcurrent: 4,
      channels: 4,
      workerId: 'container-1',
      backoffInitialMs: 50,
      backoffMaxMs: 500,
      log: (m) => workerLogs.push(m),
    });
    try {
      const connected = await waitFor(() => router.status(), (s) => s.workers.connected === 1 && s.channels.open >= 4);
      assert.equal(connected.workers.connected, 1, `worker registered: ${JSON.stringify(connected.workers)}`);
      assert.equal(connected.channels.multiplexed, connected.channels.open, 'a worker\'s channels are multiplexed');

      // Low load (one request at a time, under the worker's 4): the worker serves all, no Lambda.
      for (let i = 0; i < 20; i++) {
        const r = await call(router.url, `/whoami?i=${i}`);
        assert.equal(r.status, 200);
        assert.equal(whereServed(r.body), 'local');
      }
      let s = await router.status();
      assert.equal(s.invokes.started, 0, 'no Lambda invoked at low load');
      assert.equal(lambda.ledger().invocations, 0);

      // Beyond its capacity: 24 requests of 1.5 s at once, the worker takes 4, Lambda the rest.
      const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => call(router.url, `/whoami?ms=1500&b=${i}`)));
      const places = burst.map((r) => {
        assert.equal(r.status, 200);
        return whereServed(r.body);
      });
      assert.ok(places.includes('local'), 'the worker served part of the burst');
      assert.ok(places.some((p) => p !== 'local'), 'Lambda environments served the rest');
      s = await router.status();
      assert.ok(s.invokes.started > 0, 'Lambda instances were started above the worker capacity');

      // Kill the router and start it again on the same control port: the worker comes back.
      await router.close(2000);
      router = await startRouter({ config, bindHost: '127.0.0.1', log: (l) => logs.push(l) });
      assert.equal(router.certSha256, tls.certSha256, 'the same pin after the restart');
      const back = await waitFor(() => router.status(), (st) => st.workers.connected === 1 && st.channels.open >= 4, 20_000);
      assert.equal(back.workers.connected, 1, 'the worker registered with the restarted router');
      const r = await call(router.url, '/whoami');
      assert.equal(r.status, 200);
      assert.equal(whereServed(r.body), 'local');
      assert.equal((await router.status()).invokes.started, 0, 'the restarted router needed no Lambda');
    } finally {
      await worker.stop(2000);
      await router.close(2000);
      await lambda.close();
      await closeLocalServers();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
