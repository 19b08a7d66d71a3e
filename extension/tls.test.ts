// The extension and the worker against a router whose certificate is not the pinned one: they
// refuse it before the upgrade request (which carries the token or the worker secret), so the
// impostor never sees an upgrade; and a wss:// router without a pin is never contacted at all.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { demoApp } from '../demo/app.ts';
import { closeLocalServers, createHandler } from './handler.ts';
import { contextFor, TestRouter } from './test-router.ts';
import { startWorker } from './worker.ts';

after(() => closeLocalServers());

const SECRET = 'a-shared-secret-of-some-length';
const WRONG_PIN = '00'.repeat(32);

describe('pinned router certificate', () => {
  test('an invocation refuses another certificate: connect-failed, no upgrade request reached the impostor', async () => {
    const impostor = await new TestRouter().start();
    const logs: string[] = [];
    try {
      const result = await createHandler(demoApp, { log: (m) => logs.push(m) })(impostor.payload({ channels: 3, maxConcurrent: 3, certSha256: WRONG_PIN }), contextFor(60_000));
      assert.equal(result.exitReason, 'connect-failed');
      assert.equal(result.requests, 0);
      assert.match(result.error ?? '', /^no channel could open to wss:\/\/127\.0\.0\.1:\d+: ERR_CERT_PIN_MISMATCH: .* is not the pinned one \(0{64}\); nothing was sent$/);
      assert.equal(impostor.upgrades, 0, 'the token never left');
      assert.ok(logs.some((l) => l.includes('ERR_CERT_PIN_MISMATCH')));
    } finally {
      await impostor.close();
    }
  });

  test('the same invocation with the right pin opens its channels', async () => {
    const router = await new TestRouter().start();
    try {
      const run = createHandler(demoApp, { log: () => {} })(router.payload({ channels: 2, maxConcurrent: 2 }), contextFor(60_000));
      const chans = await router.open(2);
      chans[0]!.request(1, 'GET', '/ping');
      assert.equal((await chans[0]!.response(1)).body.toString(), 'pong');
      await router.close();
      assert.equal((await run).exitReason, 'router-lost');
    } finally {
      await router.close();
    }
  });

  test('a wss:// payload must carry a well-formed pin; plain ws:// needs none', async () => {
    const handler = createHandler(demoApp, { log: () => {} });
    const base = { v: 1, routerUrl: 'wss://127.0.0.1:1', instanceId: 'i', token: 't', channels: 1, maxConcurrent: 1 };
    await assert.rejects(handler(base, contextFor(1000)), /not a valid invoke payload: a wss:\/\/ routerUrl needs certSha256/);
    await assert.rejects(handler({ ...base, certSha256: 'AB'.repeat(32) }, contextFor(1000)), /certSha256 must be 64 lower-case hex digits/);
    await assert.rejects(handler({ ...base, certSha256: 42 }, contextFor(1000)), /certSha256 must be 64 lower-case hex digits/);
    const plain = await new TestRouter({ tls: false }).start();
    try {
      assert.match(plain.url, /^ws:\/\//);
      const run = createHandler(demoApp, { log: () => {} })(plain.payload(), contextFor(60_000));
      const [ch] = await plain.open(1);
      ch!.request(1, 'GET', '/ping');
      assert.equal((await ch!.response(1)).body.toString(), 'pong');
      await plain.close();
      await run;
    } finally {
      await plain.close();
    }
  });

  test('a worker refuses another certificate and keeps its secret; it needs a pin for wss://', async () => {
    const impostor = await new TestRouter({ workerSecret: SECRET }).start();
    const logs: string[] = [];
    await assert.rejects(
      startWorker(demoApp, { routerUrl: impostor.url, secret: SECRET, log: () => {} }),
      /a wss:\/\/ router URL needs the router's certificate pin \(routerCertSha256, LAMBDA_DISPATCH_RouterCertSha256/,
    );
    const worker = await startWorker(demoApp, { routerUrl: impostor.url, routerCertSha256: WRONG_PIN, secret: SECRET, channels: 2, maxConcurrent: 2, backoffInitialMs: 20, backoffMaxMs: 50, log: (m) => logs.push(m) });
    try {
      // Several rounds of reconnect attempts, each refused at the certificate.
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(impostor.upgrades, 0, 'the worker secret never left');
      assert.equal(worker.status().open, 0);
      assert.ok(logs.some((l) => /ERR_CERT_PIN_MISMATCH.*check LAMBDA_DISPATCH_RouterCertSha256/.test(l)), logs.join('\n'));
    } finally {
      await worker.stop(1000);
      await impostor.close();
    }
  });
});
