// The readiness wait on its own: probes until one passes, a typed error when time runs out, the
// exit reason when the app can never become ready; the HTTP probe (with a healthy-status list) and
// the TCP probe against real sockets.

import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { statusList } from '../../core/settings/env.ts';
import { AppNotReadyError, httpProbe, readinessProbe, tcpProbe, waitUntilReady, type Probe, type ReadinessWait } from './readiness.ts';

const wait = (o: Partial<ReadinessWait> = {}): ReadinessWait => ({
  description: '127.0.0.1:1',
  path: '/health',
  timeoutMs: 1000,
  intervalMs: 5,
  gone: () => null,
  ...o,
});

function scripted(...answers: (string | null)[]): Probe & { calls: number } {
  const probe = Object.assign(
    async () => {
      const a = answers[Math.min(probe.calls, answers.length - 1)]!;
      probe.calls++;
      return a;
    },
    { calls: 0 },
  );
  return probe;
}

describe('readiness', () => {
  test('resolves on the first check that passes, probing again after anything else', async () => {
    const probe = scripted('connect ECONNREFUSED', 'status 503', null);
    await waitUntilReady(probe, wait());
    assert.equal(probe.calls, 3);
  });

  test('rejects with AppNotReadyError (stable code) when time runs out, naming the last answer', async () => {
    const err = await waitUntilReady(scripted('status 503'), wait({ timeoutMs: 40 })).catch((e: unknown) => e);
    assert.ok(err instanceof AppNotReadyError);
    assert.equal(err.code, 'ERR_APP_NOT_READY');
    assert.match(err.message, /^the app at 127\.0\.0\.1:1 did not answer GET \/health with 200 within 40 ms \(last: status 503\)$/);
  });

  test('rejects with the exit reason, not a timeout, once the app cannot become ready', async () => {
    let gone: string | null = null;
    const probe: Probe = async () => {
      gone = 'the app command `x` exited (code 1); it is not restarted';
      return 'connect ECONNREFUSED';
    };
    const err = await waitUntilReady(probe, wait({ gone: () => gone })).catch((e: unknown) => e);
    assert.ok(err instanceof Error && !(err instanceof AppNotReadyError));
    assert.match(err.message, /exited \(code 1\)/);
  });

  test('the HTTP probe passes on 200 by default, and reports another status or the error', async () => {
    const server = http.createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      assert.equal(await httpProbe('127.0.0.1', port, '/health')(1000), null);
      assert.equal(await httpProbe('127.0.0.1', port, '/other')(1000), 'status 404');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    assert.match((await httpProbe('127.0.0.1', port, '/health')(1000)) ?? '', /ECONNREFUSED/);
  });

  test('a healthy-status list: statuses and ranges count as ready, others do not', async () => {
    const server = http.createServer((req, res) => res.writeHead(Number(req.url!.slice(1))).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const healthy = statusList('200-399,404', 'LAMBDA_DISPATCH_HealthyStatus');
    try {
      for (const status of [200, 204, 301, 399, 404]) assert.equal(await httpProbe('127.0.0.1', port, `/${status}`, healthy)(1000), null, String(status));
      for (const status of [400, 403, 500, 503]) assert.equal(await httpProbe('127.0.0.1', port, `/${status}`, healthy)(1000), `status ${status}`);
      // The wait: a 404 passes with the list, and the message names the list when nothing does.
      await waitUntilReady(readinessProbe('127.0.0.1', port, '/404', { readinessProtocol: 'http', healthyStatus: healthy }), wait({ path: '/404' }));
      const err = await waitUntilReady(readinessProbe('127.0.0.1', port, '/503', { readinessProtocol: 'http', healthyStatus: healthy }), wait({
        path: '/503', timeoutMs: 400, readiness: { readinessProtocol: 'http', healthyStatus: healthy },
      })).catch((e: unknown) => e);
      assert.ok(err instanceof AppNotReadyError);
      // The last probe may be cut short by the deadline on a busy machine; the list is named either way.
      assert.match(err.message, /did not answer GET \/503 with 200-399,404 within 400 ms \(last: (status 503|no answer in \d+ ms)\)$/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('the TCP probe passes once the port accepts a connection, whatever is said on it', async () => {
    let accepted = 0;
    // Not HTTP at all: a server that closes every connection at once.
    const server = net.createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      assert.equal(await tcpProbe('127.0.0.1', port)(1000), null);
      await waitUntilReady(readinessProbe('127.0.0.1', port, '/health', { readinessProtocol: 'tcp', healthyStatus: [] }), wait());
      assert.match((await httpProbe('127.0.0.1', port, '/health')(1000)) ?? '', /socket hang up|ECONNRESET/, 'HTTP readiness would not pass');
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(accepted >= 2);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    assert.match((await tcpProbe('127.0.0.1', port)(1000)) ?? '', /ECONNREFUSED/);
    const err = await waitUntilReady(tcpProbe('127.0.0.1', port), wait({ timeoutMs: 40, readiness: { readinessProtocol: 'tcp', healthyStatus: [] } })).catch((e: unknown) => e);
    assert.ok(err instanceof AppNotReadyError);
    assert.match(err.message, /did not accept a TCP connection within 40 ms \(last: connect ECONNREFUSED/);
  });

  test('a port-app becomes ready by TCP when told to, not by HTTP', async () => {
    // A listening server that never answers HTTP: TCP readiness passes; HTTP readiness times out.
    const server = net.createServer(() => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const { PortTarget } = await import('./port-target.ts');
      const { appRegistry } = await import('./registry.ts');
      const tcp = new PortTarget(appRegistry(), { port }, 5, 1000, { readinessProtocol: 'tcp', healthyStatus: [] });
      await tcp.ready(500);
      const http200 = new PortTarget(appRegistry(), { port }, 5, 1000);
      const err = await http200.ready(200).catch((e: unknown) => e);
      assert.ok(err instanceof AppNotReadyError);
      assert.match(err.message, /did not answer GET \/health with 200 within 200 ms/);
    } finally {
      server.close();
      await new Promise((r) => setTimeout(r, 0));
    }
  });
});
