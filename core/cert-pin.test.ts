// The pin check on its own: the fingerprint, the constant-time comparison, and connectPinned
// against real TLS servers — the right certificate gets a socket; any other is dropped after the
// handshake with nothing written to it.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CERT_PIN_MISMATCH, CertPinError, certSha256, connectPinned, matchesPin } from './cert-pin.ts';
import { generateControlTls, type ControlTls } from './dispatcher/control-tls.ts';

/** A TLS server that counts connections and the application bytes it receives after the handshake. */
async function tlsServer(tls: ControlTls): Promise<{ server: Server; port: number; connections: () => number; bytes: () => number }> {
  let connections = 0;
  let bytes = 0;
  const server = createServer({ cert: tls.cert, key: tls.key }, (socket: TLSSocket) => {
    socket.on('data', (d: Buffer) => (bytes += d.length));
    socket.on('error', () => {});
  });
  server.on('connection', () => connections++);
  // The client drops the connection right after its check, which the server may see mid-handshake.
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections, bytes: () => bytes };
}

describe('certificate pin', () => {
  let a: ControlTls;
  let b: ControlTls;
  before(async () => {
    [a, b] = await Promise.all([generateControlTls(), generateControlTls()]);
  });

  test('certSha256 is the SHA-256 of the DER, lower-case hex, as openssl prints it without colons', () => {
    const x = new X509Certificate(a.cert);
    assert.equal(certSha256(x.raw), x.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.match(certSha256(x.raw), /^[0-9a-f]{64}$/);
    assert.equal(a.certSha256, certSha256(x.raw));
  });

  test('matchesPin: only the exact lower-case hex digest of these bytes', () => {
    const der = new X509Certificate(a.cert).raw;
    assert.equal(matchesPin(der, a.certSha256), true);
    assert.equal(matchesPin(der, b.certSha256), false);
    assert.equal(matchesPin(der, a.certSha256.toUpperCase()), false, 'the payload form is lower-case; the settings readers normalise');
    assert.equal(matchesPin(der, a.certSha256.slice(0, 62)), false);
    assert.equal(matchesPin(der, ''), false);
    assert.equal(matchesPin(der, `${a.certSha256}00`), false);
  });

  describe('connectPinned', () => {
    const servers: Server[] = [];
    after(() => {
      for (const s of servers) s.close();
    });

    test('the pinned certificate: a connected, usable socket', async () => {
      const s = await tlsServer(a);
      servers.push(s.server);
      const socket = await connectPinned(`wss://127.0.0.1:${s.port}/v1/channel`, a.certSha256, 5000);
      try {
        assert.equal(socket.encrypted, true);
        socket.write('hello');
        const until = Date.now() + 2000;
        while (s.bytes() < 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        assert.equal(s.bytes(), 5);
      } finally {
        socket.destroy();
      }
    });

    test('another certificate: CertPinError after the handshake, and not one byte sent', async () => {
      const s = await tlsServer(b);
      servers.push(s.server);
      const err = await connectPinned(`wss://127.0.0.1:${s.port}`, a.certSha256, 5000).then(
        () => assert.fail('connected to the wrong certificate'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CertPinError);
      assert.equal(err.code, CERT_PIN_MISMATCH);
      assert.equal(err.actual, b.certSha256);
      assert.equal(err.expected, a.certSha256);
      assert.match(err.message, /^ERR_CERT_PIN_MISMATCH: the TLS certificate of 127\.0\.0\.1:\d+ .* is not the pinned one/);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(s.connections(), 1, 'the impostor was reached');
      assert.equal(s.bytes(), 0, 'nothing was written after the handshake');
    });

    test('a handshake that does not finish in time, and an abandoned one', async () => {
      // A TCP server that never answers the ClientHello.
      const { createServer: createTcp } = await import('node:net');
      const silent = createTcp((sock) => sock.on('error', () => {}));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const port = (silent.address() as AddressInfo).port;
      try {
        await assert.rejects(connectPinned(`wss://127.0.0.1:${port}`, a.certSha256, 100), /TLS handshake with 127\.0\.0\.1:\d+ timed out after 100 ms/);
        const ac = new AbortController();
        const pending = connectPinned(`wss://127.0.0.1:${port}`, a.certSha256, 5000, ac.signal);
        ac.abort();
        await assert.rejects(pending, /abandoned/);
      } finally {
        silent.close();
      }
    });

    test('nothing listening: the connection error', async () => {
      const s = await tlsServer(a);
      s.server.close();
      await assert.rejects(connectPinned(`wss://127.0.0.1:${s.port}`, a.certSha256, 2000), /ECONNREFUSED/);
    });
  });
});
