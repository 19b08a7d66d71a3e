// The readiness wait on its own: probes until 200, a typed error when time runs out, the exit
// reason when the app can never become ready, and the HTTP probe against a real server.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { AppNotReadyError, httpProbe, waitUntilReady, type Probe, type ReadinessWait } from './readiness.ts';

const wait = (o: Partial<ReadinessWait> = {}): ReadinessWait => ({
  description: '127.0.0.1:1',
  path: '/health',
  timeoutMs: 1000,
  intervalMs: 5,
  gone: () => null,
  ...o,
});

function scripted(...answers: (number | Error)[]): Probe & { calls: number } {
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
  test('resolves on the first 200, probing again after anything else', async () => {
    const probe = scripted(new Error('ECONNREFUSED'), 503, 200);
    await waitUntilReady(probe, wait());
    assert.equal(probe.calls, 3);
  });

  test('rejects with AppNotReadyError (stable code) when time runs out, naming the last answer', async () => {
    const err = await waitUntilReady(scripted(503), wait({ timeoutMs: 40 })).catch((e: unknown) => e);
    assert.ok(err instanceof AppNotReadyError);
    assert.equal(err.code, 'ERR_APP_NOT_READY');
    assert.match(err.message, /^the app at 127\.0\.0\.1:1 did not answer GET \/health with 200 within 40 ms \(last: status 503\)$/);
  });

  test('rejects with the exit reason, not a timeout, once the app cannot become ready', async () => {
    let gone: string | null = null;
    const probe: Probe = async () => {
      gone = 'the app command `x` exited (code 1); it is not restarted';
      return new Error('ECONNREFUSED');
    };
    const err = await waitUntilReady(probe, wait({ gone: () => gone })).catch((e: unknown) => e);
    assert.ok(err instanceof Error && !(err instanceof AppNotReadyError));
    assert.match(err.message, /exited \(code 1\)/);
  });

  test('the HTTP probe reports the status, or the error', async () => {
    const server = http.createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      assert.equal(await httpProbe('127.0.0.1', port, '/health')(1000), 200);
      assert.equal(await httpProbe('127.0.0.1', port, '/other')(1000), 404);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    assert.ok((await httpProbe('127.0.0.1', port, '/health')(1000)) instanceof Error);
  });
});
