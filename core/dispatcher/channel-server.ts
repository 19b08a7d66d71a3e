// The control port: extensions open their WebSocket channels here. Authentication happens on the
// upgrade request, before any WebSocket state exists, so a bad caller costs one HTTP answer.
// With a certificate and key (control-tls.ts) it serves wss://; the extension has checked the
// certificate's pin before it sends the upgrade request with its token.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CHANNEL_FEATURES, CHANNEL_HEADER, CHANNEL_PATH, COLD_START_HEADER, EXTENSION_FEATURES, FEATURES_HEADER, FUNCTION_HEADER, INSTANCE_HEADER, MAX_CONCURRENT_HEADER, WORKER_HEADER, parseFeatures } from '../protocol.ts';
import type { ChannelHello, WorkerHello } from './state.ts';


export interface ChannelAuthority {
  /** The secret of a known instance that still accepts channels; null when unknown or closing. */
  tokenFor(instanceId: string): Buffer | null | 'closing';
  /** `hello`: what the upgrade request said of the extension and its environment. */
  accept(instanceId: string, index: number, ws: WebSocket, hello: ChannelHello): void;
  /**
   * `hello`: whether the worker named the `upgrade` feature, and whether its channel is multiplexed.
   * `functionName`: the function whose app it runs, when it named one (checked first with servesFunction).
   */
  acceptWorker(workerId: string, index: number, maxConcurrent: number, ws: WebSocket, hello: WorkerHello, functionName?: string): void;
  /** Whether a worker may name this function: one the router routes to (absent: none may be named). */
  servesFunction?(name: string): boolean;
  rejected(status: number, why: string): void;
}

/** Compares secrets in time independent of where they differ (hashing first equalises lengths). */
export function sameSecret(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function refuse(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

const PLAIN_FEATURES = CHANNEL_FEATURES.filter((f) => f !== 'mux');

export class ChannelServer {
  private readonly http: Server | TlsServer;
  private readonly wss: WebSocketServer;

  constructor(
    private readonly authority: ChannelAuthority,
    maxFrameBytes: number,
    /** The shared secret of container workers; null when worker mode is off. */
    private readonly workerSecret: Buffer | null = null,
    /** PEM certificate and key to serve wss://; null: plain ws://. */
    tls: { cert: string; key: string } | null = null,
    /** Multiplex the channels of extensions that ask for it (LAMBDA_DISPATCH_Multiplex). */
    private readonly multiplex = true,
  ) {
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: maxFrameBytes, clientTracking: true });
    // Every accepted channel learns which optional frames and fields this router understands;
    // `mux` only where the extension asked for it, so both ends agree the channel is multiplexed.
    this.wss.on('headers', (headers, req) => {
      const features = this.multiplexes(req) ? CHANNEL_FEATURES : PLAIN_FEATURES;
      headers.push(`${FEATURES_HEADER}: ${features.join(', ')}`);
    });
    const notWebSocket: RequestListener = (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('lambda-dispatch control port: WebSocket only\n');
    };
    // Only the extension connects here and it speaks HTTP/1.1 upgrades: no ALPN beyond that.
    this.http = tls ? createTlsServer({ cert: tls.cert, key: tls.key, ALPNProtocols: ['http/1.1'] }, notWebSocket) : createServer(notWebSocket);
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  private multiplexes(req: IncomingMessage): boolean {
    return this.multiplex && parseFeatures(req.headers[FEATURES_HEADER], EXTENSION_FEATURES).has('mux');
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== CHANNEL_PATH) return this.reject(socket, 404, `unknown path ${path}`);
    const index = Number(req.headers[CHANNEL_HEADER]);
    const auth = req.headers.authorization;
    const given = typeof auth === 'string' && auth.startsWith('Bearer ') ? Buffer.from(auth.slice(7)) : Buffer.alloc(0);
    const workerId = req.headers[WORKER_HEADER];
    if (typeof workerId === 'string') return this.upgradeWorker(req, socket, head, workerId, index, given);
    const instanceId = req.headers[INSTANCE_HEADER];
    if (typeof instanceId !== 'string' || !Number.isInteger(index) || index < 0) {
      return this.reject(socket, 400, `missing ${INSTANCE_HEADER} or ${CHANNEL_HEADER}`);
    }
    const expected = this.authority.tokenFor(instanceId);
    if (expected === null) return this.reject(socket, 409, 'unknown instance');
    if (expected === 'closing') return this.reject(socket, 409, 'instance is closing');
    if (!sameSecret(given, expected)) return this.reject(socket, 401, 'bad token');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // The instance may have closed while the handshake completed.
      if (this.authority.tokenFor(instanceId) === null) return ws.close(1008, 'instance closed');
      const features = parseFeatures(req.headers[FEATURES_HEADER], EXTENSION_FEATURES);
      this.authority.accept(instanceId, index, ws, {
        coldStart: req.headers[COLD_START_HEADER] === '1',
        followsLimit: features.has('channels'),
        acceptsUpgrade: features.has('upgrade'),
        multiplexed: this.multiplexes(req),
      });
    });
  }

  private upgradeWorker(req: IncomingMessage, socket: Duplex, head: Buffer, workerId: string, index: number, given: Buffer): void {
    if (this.workerSecret === null) return this.reject(socket, 503, 'container workers are not enabled (LAMBDA_DISPATCH_WorkerSecret)');
    if (!sameSecret(given, this.workerSecret)) return this.reject(socket, 401, 'bad worker secret');
    const maxConcurrent = Number(req.headers[MAX_CONCURRENT_HEADER] ?? 1);
    if (workerId === '' || workerId.length > 200 || !Number.isInteger(index) || index < 0 || !Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 10_000) {
      return this.reject(socket, 400, `bad ${WORKER_HEADER}, ${CHANNEL_HEADER} or ${MAX_CONCURRENT_HEADER}`);
    }
    const fn = req.headers[FUNCTION_HEADER];
    if (typeof fn === 'string' && this.authority.servesFunction?.(fn) !== true) return this.reject(socket, 404, `no function named ${JSON.stringify(fn.slice(0, 100))} on this router`);
    const features = parseFeatures(req.headers[FEATURES_HEADER], EXTENSION_FEATURES);
    const hello = { acceptsUpgrade: features.has('upgrade'), multiplexed: this.multiplexes(req) };
    this.wss.handleUpgrade(req, socket, head, (ws) => this.authority.acceptWorker(workerId, index, maxConcurrent, ws, hello, typeof fn === 'string' ? fn : undefined));
  }

  private reject(socket: Duplex, status: number, why: string): void {
    this.authority.rejected(status, why);
    refuse(socket, status, why);
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const addr = this.http.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
