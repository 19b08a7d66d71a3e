// Whole system, control channel over TLS: a man in the middle. The invokes are rewritten on their
// way to the local Lambda so that the function calls back to an impostor — a TLS server with its
// own self-signed certificate that would relay everything to the real control port. The payload
// still pins the real router's certificate, so the extension refuses the impostor right after the
// TLS handshake: the impostor receives not one byte (no upgrade request, no token), no channel
// opens, nothing is dispatched, and the router counts a failed start that names the pin mismatch.

import assert from 'node:assert/strict';
import { createServer as createHttpServer, request, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { describe, test } from 'node:test';
import { generateControlTls } from '../core/dispatcher/control-tls.ts';
import { call, startStack, waitFor } from './stack.ts';

/** The Lambda API with every invoke's routerUrl pointed at `redirect()`; the pin is left alone. */
async function rewritingLambdaProxy(target: () => string, redirect: () => string): Promise<HttpServer> {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      try {
        const payload = JSON.parse(body.toString()) as { routerUrl?: string };
        if (typeof payload.routerUrl === 'string') body = Buffer.from(JSON.stringify({ ...payload, routerUrl: redirect() }));
      } catch {
        // Not JSON: passed on as it is.
      }
      const headers = { ...req.headers, 'content-length': String(body.length) };
      const out = request(new URL(req.url!, target()), { method: req.method, headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      out.on('error', () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

describe('control channel TLS: a man in the middle', () => {
  test('an impostor with another certificate is refused before the upgrade request; nothing is dispatched', async () => {
    const fake = await generateControlTls();
    let connections = 0;
    let bytesFromExtension = 0;
    let realControlPort = 0;
    // A relaying impostor: whatever the extension sent would reach the real router.
    // Application bytes can only arrive after the server side of the handshake completes, so the
    // counter below sees every byte the extension could have sent.
    const impostor: TlsServer = createTlsServer({ cert: fake.cert, key: fake.key }, (client: TLSSocket) => {
      client.on('error', () => {});
      const upstream = connect({ host: '127.0.0.1', port: realControlPort, rejectUnauthorized: false });
      upstream.on('error', () => client.destroy());
      client.on('data', (d: Buffer) => (bytesFromExtension += d.length));
      client.pipe(upstream).pipe(client);
    });
    impostor.on('connection', () => connections++);
    // The extension drops the connection as soon as it has seen the certificate.
    impostor.on('tlsClientError', () => {});
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    const impostorUrl = `wss://127.0.0.1:${(impostor.address() as AddressInfo).port}`;

    let lambdaUrl = '';
    const proxy = await rewritingLambdaProxy(
      () => lambdaUrl,
      () => impostorUrl,
    );
    const stack = await startStack({
      routerEnv: {
        AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        LAMBDA_DISPATCH_IncomingRequestTimeout: '3',
        LAMBDA_DISPATCH_MaxInstances: '2',
      },
    });
    lambdaUrl = stack.lambda.url;
    realControlPort = stack.router.controlPort;
    try {
      assert.match(stack.router.certSha256 ?? '', /^[0-9a-f]{64}$/);
      assert.notEqual(stack.router.certSha256, fake.certSha256);
      assert.ok(stack.logs.some((l) => l.includes(`wss://, certificate SHA-256 ${stack.router.certSha256} (generated at start)`)), stack.logs.join('\n'));

      const r = await call(stack.router.url, '/ping');
      assert.notEqual(r.status, 200, 'nothing served the request');
      assert.match(String(r.headers['x-lambda-dispatch-error']), /^LD_(QUEUE_TIMEOUT|NO_CAPACITY)$/);

      const s = await waitFor(
        () => stack.router.status(),
        (st) => (st.invokes.failuresByKind['connect-failed'] ?? 0) >= 1,
      );
      assert.ok((s.invokes.failuresByKind['connect-failed'] ?? 0) >= 1, JSON.stringify(s.invokes));
      assert.equal(s.channels.open, 0, 'no channel ever opened');
      assert.ok(connections >= 1, 'the extension did reach the impostor');
      assert.equal(bytesFromExtension, 0, 'the impostor received nothing after the handshake: no upgrade request, no token');
      // The extension saw the impostor's certificate (the handshake completed) and named it.
      const refusal = stack.logs.find((l) => /failed \(connect-failed: no channel could open to wss:\/\/127\.0\.0\.1:\d+: ERR_CERT_PIN_MISMATCH/.test(l));
      assert.ok(refusal, stack.logs.join('\n'));
      assert.ok(refusal.includes(`(SHA-256 ${fake.certSha256}) is not the pinned one (${stack.router.certSha256})`), refusal);

      // The counter works: a client that does write after the handshake is seen.
      const probe = connect({ host: '127.0.0.1', port: (impostor.address() as AddressInfo).port, rejectUnauthorized: false });
      probe.on('error', () => {});
      probe.once('secureConnect', () => probe.write('GET /v1/channel HTTP/1.1\r\n'));
      const seen = await waitFor(() => bytesFromExtension, (n) => n > 0, 5000);
      probe.destroy();
      assert.equal(seen, 'GET /v1/channel HTTP/1.1\r\n'.length);
    } finally {
      await stack.close();
      proxy.close();
      impostor.close();
    }
  });
});
