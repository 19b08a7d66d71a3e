// Opens the WebSocket of one channel. For wss:// the TLS connection is made and its certificate
// checked against the pin first (core/cert-pin.ts), and only then does the WebSocket client get
// the socket: the upgrade request carries the token, so it must never be written to a socket whose
// certificate has not been checked.

import WebSocket, { type ClientOptions } from 'ws';
import { connectPinned } from '../core/cert-pin.ts';

/**
 * A WebSocket at once for ws://; for wss://, one over a checked TLS socket, or a rejection
 * (CertPinError with code ERR_CERT_PIN_MISMATCH, a connection error, the timeout, or `signal`).
 * `options.handshakeTimeout` bounds the TLS connection and the upgrade together.
 */
export function openChannelSocket(url: string, options: ClientOptions & { handshakeTimeout: number }, certSha256: string | undefined, signal: AbortSignal): WebSocket | Promise<WebSocket> {
  if (!/^wss:/i.test(url)) return new WebSocket(url, options);
  if (certSha256 === undefined) return Promise.reject(new Error("no pin for the router's certificate: a wss:// router URL needs certSha256"));
  const started = Date.now();
  return connectPinned(url, certSha256, options.handshakeTimeout, signal).then((socket) => {
    const left = Math.max(1, options.handshakeTimeout - (Date.now() - started));
    return new WebSocket(url, { ...options, handshakeTimeout: left, createConnection: () => socket });
  });
}
