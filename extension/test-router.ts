// Test support (not shipped): a minimal router side of the channel protocol on real sockets — a
// WebSocket server on 127.0.0.1:0 that checks the bearer token like the real one and speaks frames
// through core/frames.ts — plus helpers to drive one request through a channel. Like the router it
// serves wss:// with a self-signed certificate by default, and its payload carries the pin.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { decodeFrame, encodeFrame, type Frame, type HeaderList, type LoadReport, type ResponseHead } from '../core/frames.ts';
import { generateControlTls, type ControlTls } from '../core/dispatcher/control-tls.ts';
import { CHANNEL_FEATURES, CHANNEL_HEADER, CHANNEL_PATH, FEATURES_HEADER, INSTANCE_HEADER, MAX_CONCURRENT_HEADER, WORKER_HEADER } from '../core/protocol.ts';
import type { InvokePayload, LambdaContext } from './types.ts';

/** A FIFO that hands values to waiters, with a timeout so a broken test fails instead of hanging. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((v: T) => void)[] = [];

  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }

  get length(): number {
    return this.items.length;
  }

  next(timeoutMs = 5000, what = 'value'): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (v: T) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.waiters.push(waiter);
    });
  }
}

export interface RelayedResponse {
  status: number;
  /** The reason phrase, when RES_HEAD carried one. */
  reason?: string;
  headers: string[];
  /** Informational (1xx) heads that came first (RES_INFO). */
  info: ResponseHead[];
  /** RES_END's trailers, when it had any. */
  trailers?: HeaderList;
  body: Buffer;
  /** Frames the response took (RES_HEAD, RES_BODY…, RES_END), for protocol assertions. */
  frames: Frame['type'][];
  /** The RES_ERROR message, when the extension answered with one. */
  error?: string;
}

export class TestChannel {
  readonly frames = new AsyncQueue<Frame>();
  /** CLOSE_REQUEST reasons seen while waiting for responses. */
  readonly closeRequests: string[] = [];
  /** LOAD reports, kept apart: they come once a second whatever else the test is looking at. */
  readonly loads: LoadReport[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  /** The upgrade request's headers. */
  hello: http.IncomingHttpHeaders = {};
  /** For container workers: the worker id and capacity the channel announced. */
  workerId: string | null = null;
  maxConcurrent = 0;

  constructor(
    readonly ws: WebSocket,
    readonly index: number,
  ) {
    ws.on('message', (data: Buffer) => {
      const f = decodeFrame(data);
      if (f.type === 'load') this.loads.push(f.load);
      else this.frames.push(f);
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  send(f: Frame): void {
    this.ws.send(encodeFrame(f));
  }

  next(timeoutMs = 5000): Promise<Frame> {
    return this.frames.next(timeoutMs, `frame on channel ${this.index}`);
  }

  /** Sends a whole request: head (END when there is no body), body chunks, REQ_END. */
  request(id: number, method: string, target: string, headers: string[] = [], body?: Buffer, chunkBytes = 64 * 1024): void {
    const hasBody = body !== undefined && body.length > 0;
    this.send({ type: 'req-head', id, head: { method, target, headers }, end: !hasBody, body: null });
    if (!hasBody) return;
    for (let off = 0; off < body.length; off += chunkBytes) {
      this.send({ type: 'req-body', id, body: body.subarray(off, off + chunkBytes) });
    }
    this.send({ type: 'req-end', id });
  }

  /** Collects the response to `id` (frames for other ids are a test failure). */
  async response(id: number, timeoutMs = 10_000): Promise<RelayedResponse> {
    const out: RelayedResponse = { status: 0, headers: [], info: [], body: Buffer.alloc(0), frames: [] };
    const chunks: Buffer[] = [];
    for (;;) {
      const f = await this.next(timeoutMs);
      if (f.type === 'close-request') {
        this.closeRequests.push(f.reason);
        continue;
      }
      if (!('id' in f) || f.id !== id) throw new Error(`frame ${f.type} for id ${'id' in f ? f.id : '-'} while waiting for ${id}`);
      out.frames.push(f.type);
      if (f.type === 'res-info') {
        out.info.push(f.head);
      } else if (f.type === 'res-head') {
        out.status = f.head.status;
        if (f.head.reason !== undefined) out.reason = f.head.reason;
        out.headers = f.head.headers;
        if (f.body) chunks.push(Buffer.from(f.body));
        if (f.end) break;
      } else if (f.type === 'res-body') {
        chunks.push(Buffer.from(f.body));
      } else if (f.type === 'res-end') {
        if (f.trailers !== undefined) out.trailers = f.trailers;
        break;
      } else if (f.type === 'res-error') {
        out.error = f.message;
        break;
      } else {
        throw new Error(`unexpected ${f.type} from the extension`);
      }
    }
    out.body = Buffer.concat(chunks);
    return out;
  }
}

export interface TestRouterOptions {
  /** Answer 409 to every channel (instance unknown or closing). */
  conflict?: boolean;
  /** Accept container workers presenting this secret (else they get 503, worker mode off). */
  workerSecret?: string;
  /** Listen on this port (to stand in for a router restarted on the same address). */
  port?: number;
  /** Serve wss:// with a self-signed certificate (the default), or plain ws:// when false. */
  tls?: boolean;
  /** The optional protocol features announced to each channel (default: all; [] stands in for an older router). */
  features?: readonly string[];
}

// One certificate per test process: generating costs tens of milliseconds, and a router restarted
// on the same port keeps its pin, as a real one given its certificate files does.
let sharedTls: Promise<ControlTls> | null = null;
export function testTls(): Promise<ControlTls> {
  sharedTls ??= generateControlTls();
  return sharedTls;
}

export class TestRouter {
  readonly token = randomUUID();
  readonly instanceId = randomUUID();
  readonly channels = new AsyncQueue<TestChannel>();
  /** Status codes of refused upgrades. */
  readonly refused: number[] = [];
  /** Upgrade requests that reached this router, accepted or not. */
  upgrades = 0;
  /** The pin of the certificate served; undefined with `tls: false`. */
  certSha256: string | undefined;
  private http: http.Server | https.Server = http.createServer();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly sockets = new Set<WebSocket>();
  /** When set, every upgrade is refused with this status. */
  refuseAll: number | null = null;
  url = '';
  port = 0;

  constructor(private readonly o: TestRouterOptions = {}) {}

  private serve(): void {
    this.http.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(426).end());
    this.http.on('upgrade', (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
      this.upgrades++;
      const refuse = (status: number) => {
        this.refused.push(status);
        // The client may reset as it reads the refusal; the HTTP server no longer listens on this socket.
        socket.on('error', () => socket.destroy());
        socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      };
      if (req.url !== CHANNEL_PATH) return refuse(404);
      if (this.refuseAll !== null) return refuse(this.refuseAll);
      const index = Number(req.headers[CHANNEL_HEADER]);
      const workerId = req.headers[WORKER_HEADER];
      if (typeof workerId === 'string') {
        if (this.o.workerSecret === undefined) return refuse(503);
        if (req.headers.authorization !== `Bearer ${this.o.workerSecret}`) return refuse(401);
        const max = Number(req.headers[MAX_CONCURRENT_HEADER]);
        if (workerId === '' || !Number.isInteger(index) || index < 0 || !Number.isInteger(max) || max < 1) return refuse(400);
        return this.accept(req, socket, head, index, (ch) => {
          ch.workerId = workerId;
          ch.maxConcurrent = max;
        });
      }
      if (req.headers.authorization !== `Bearer ${this.token}`) return refuse(401);
      if (this.o.conflict || req.headers[INSTANCE_HEADER] !== this.instanceId) return refuse(409);
      this.accept(req, socket, head, index, () => {});
    });
  }

  private accept(req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer, index: number, init: (ch: TestChannel) => void): void {
    // Serves one request a channel at a time: never multiplexed.
    const features = this.o.features ?? CHANNEL_FEATURES.filter((f) => f !== 'mux');
    if (features.length > 0 && this.wss.listenerCount('headers') === 0) {
      this.wss.on('headers', (headers) => headers.push(`${FEATURES_HEADER}: ${features.join(', ')}`));
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sockets.add(ws);
      ws.once('close', () => this.sockets.delete(ws));
      const ch = new TestChannel(ws, index);
      ch.hello = req.headers;
      init(ch);
      this.channels.push(ch);
    });
  }

  async start(): Promise<this> {
    const tls = this.o.tls === false ? null : await testTls();
    this.certSha256 = tls?.certSha256;
    this.http = tls ? https.createServer({ cert: tls.cert, key: tls.key }) : http.createServer();
    this.serve();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.o.port ?? 0, '127.0.0.1', () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.url = `${this.certSha256 !== undefined ? 'wss' : 'ws'}://127.0.0.1:${this.port}`;
    return this;
  }

  payload(p: Partial<InvokePayload> = {}): InvokePayload {
    const pin = this.certSha256 !== undefined ? { certSha256: this.certSha256 } : {};
    return { v: 1, routerUrl: this.url, ...pin, instanceId: this.instanceId, token: this.token, channels: 1, maxConcurrent: 1, ...p };
  }

  /** Waits for `n` channels to open, in index order. */
  async open(n: number, timeoutMs = 5000): Promise<TestChannel[]> {
    const out: TestChannel[] = [];
    for (let i = 0; i < n; i++) out.push(await this.channels.next(timeoutMs, 'channel'));
    return out.sort((a, b) => a.index - b.index);
  }

  private closing: Promise<void> | null = null;

  /** Drops every channel and stops listening (idempotent). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const ws of this.sockets) ws.terminate();
      await new Promise<void>((r) => this.wss.close(() => r()));
      this.http.closeAllConnections();
      await new Promise<void>((r) => this.http.close(() => r()));
    })();
    return this.closing;
  }
}

/** A Lambda context whose deadline is `ms` from now. */
export function contextFor(ms: number): LambdaContext & { deadline: number } {
  const deadline = Date.now() + ms;
  return { deadline, awsRequestId: randomUUID(), getRemainingTimeInMillis: () => deadline - Date.now() };
}

/** The values of header `name` in a flat list. */
export function headerValues(headers: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) out.push(headers[i + 1]!);
  return out;
}

/**
 * `ws`'s own frame writer and reader (exported by the package, not by its type definitions), for
 * tests that speak WebSocket frames inside a tunnel.
 */
export const wsFraming = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean; maskBuffer?: Buffer }): Buffer[] };
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => import('node:stream').Writable;
};
