// Certificate pinning for the control channel (docs/PROTOCOL.md, "TLS and the pinned
// certificate"). The router's certificate is self-signed, so no CA can vouch for it; instead the
// invoke payload (or a worker's setting) names the SHA-256 of the certificate's DER and the
// extension refuses every other certificate.
//
// The check has to happen before the bearer token leaves: the token rides in the WebSocket upgrade
// request, and a TLS socket queues whatever is written to it and sends it as soon as the handshake
// completes, whatever certificate the peer showed. So the socket is connected and checked here,
// and only a checked socket is handed to the WebSocket client.

import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';

export const CERT_PIN_MISMATCH = 'ERR_CERT_PIN_MISMATCH';

/** Lower-case hex, as `openssl x509 -noout -fingerprint -sha256` prints it without the colons. */
export const CERT_SHA256_TEXT = /^[0-9a-f]{64}$/;

/** The pin of a certificate: SHA-256 of its DER bytes, lower-case hex. */
export function certSha256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/**
 * Whether `der` is the pinned certificate. Constant time in where the digests differ; a pin that is
 * not 64 hex digits never matches.
 */
export function matchesPin(der: Uint8Array, pin: string): boolean {
  if (!CERT_SHA256_TEXT.test(pin)) return false;
  return timingSafeEqual(createHash('sha256').update(der).digest(), Buffer.from(pin, 'hex'));
}

/** The router showed a certificate other than the pinned one; nothing was sent to it. */
export class CertPinError extends Error {
  override name = 'CertPinError';
  readonly code = CERT_PIN_MISMATCH;

  constructor(
    readonly address: string,
    /** The fingerprint the peer showed (lower-case hex), or null when it showed no certificate. */
    readonly actual: string | null,
    readonly expected: string,
  ) {
    super(
      `${CERT_PIN_MISMATCH}: the TLS certificate of ${address} (SHA-256 ${actual ?? 'none'}) is not the pinned one (${expected}); nothing was sent`,
    );
  }
}

/**
 * Opens a TLS connection to a `wss://` URL's host and port and resolves once the peer has shown the
 * pinned certificate; otherwise the socket is destroyed before a byte of ours is written and the
 * promise rejects (CertPinError, or the connection's own error, or a timeout).
 */
export function connectPinned(url: string, pin: string, timeoutMs: number, signal?: AbortSignal): Promise<TLSSocket> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port || 443);
  const address = `${u.hostname}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      // SNI may not carry an IP address; a name is sent for routers behind a TLS-aware proxy.
      ...(isIP(host) === 0 ? { servername: host } : {}),
      // The certificate is self-signed: chain validation cannot pass, the pin below replaces it.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const fail = (err: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      socket.destroy();
      reject(err);
    };
    const aborted = () => fail(new Error(`connection to ${address} abandoned`));
    signal?.addEventListener('abort', aborted, { once: true });
    const timer = setTimeout(() => fail(new Error(`TLS handshake with ${address} timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw as Buffer | undefined;
      if (raw === undefined || !matchesPin(raw, pin)) return fail(new CertPinError(address, raw === undefined ? null : certSha256(raw), pin));
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      socket.off('error', fail);
      // The WebSocket client adds its own listener on its next tick; until then an error must not
      // become an uncaught exception.
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}
