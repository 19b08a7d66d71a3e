// One WebSocket channel to the router, serving one request at a time (DESIGN §4): REQ_* frames
// become a request to the app (in-memory for an in-process listener, loopback HTTP for a
// `{ port }` app), the app's response goes back as RES_* frames.
//
// What is sent when:
//   REQ_HEAD on a busy channel             → RES_ERROR 'channel busy' (the current request goes on)
//   REQ_HEAD beyond maxConcurrent           → RES_ERROR 'over capacity'
//   app response head                       → RES_HEAD, hop-by-hop headers removed, with the body
//                                              bytes that arrived with it inline (up to
//                                              inlineBodyBytes, and never a message larger than
//                                              a RES_BODY) and flag END when that is all of it
//                                              (always for HEAD, 204 and 304)
//   app response body                       → RES_BODY (≤ maxChunkBytes each), then RES_END
//   app unreachable / fails at any point    → RES_ERROR (the router answers 502 or resets)
//   REQ_ABORT for the current request       → app request destroyed, RES_END
//   any frame for another id                → ignored (stale: the request already ended)
//   GOAWAY                                  → the current request finishes, then the channel closes
// Responses are gzipped on the way when compression is on and the request and response allow it
// (compression.ts); a compressed body is never sent inline with the head.
// Memory per request is bounded both ways: the app's response is paused while the channel has more
// than highWaterMark bytes unsent, and the channel stops reading while the app's request is not
// draining.

import { CHANNEL_PATH } from '../core/protocol.ts';
import type { Readable } from 'node:stream';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, responseHeadSize, type Frame, type RequestHead } from '../core/frames.ts';
import { endToEndHeaders } from '../core/http-headers.ts';
import type { AppRequest, AppResponse, AppTarget } from './app-target.ts';
import { gzipHeaders, gzipStream, shouldCompress } from './compression.ts';
import type { ResolvedOptions } from './types.ts';


/** What a channel needs from the invocation that owns it. */
export interface ChannelHost {
  readonly target: AppTarget;
  readonly options: ResolvedOptions;
  /** Takes one of the invocation's request slots (counts the request); false when all are taken. */
  acquire(): boolean;
  release(): void;
  opened(ch: Channel): void;
  closed(ch: Channel): void;
  /** The app refused a connection: nothing listens any more. */
  appGone(err: Error): void;
  /** GOAWAY arrived on this channel. */
  goaway?(ch: Channel): void;
}

/**
 * How a channel ended: `goaway` (router asked), `lost` (closed by the other side or the network
 * without GOAWAY), `refused` (never opened), `stopped` (closed by us at the hard stop), `retired`
 * (closed by us once idle: the instance or worker is leaving).
 */
export type ChannelEnd = 'goaway' | 'lost' | 'refused' | 'stopped' | 'retired';

type State = 'connecting' | 'open' | 'closing' | 'closed';

class Exchange {
  appReq: AppRequest | null = null;
  appRes: AppResponse | null = null;
  headSent = false;
  /** REQ_END (or a head flagged END) has arrived and the app request was ended. */
  requestEnded: boolean;
  /** A REQ_BODY was written: the request can no longer be replayed on a fresh connection. */
  bodyStreamed = false;
  retried = false;
  finished = false;
  /** The channel's reading is paused until the app request drains. */
  wsPaused = false;
  /** The app's response is paused until the channel's send buffer drains. */
  resPaused = false;
  /** What the body is read from: the app's response, or the gzip stream it is piped through. */
  source: Readable | null = null;

  constructor(
    readonly id: number,
    readonly head: RequestHead,
    readonly headers: string[],
    readonly inline: Uint8Array | null,
    end: boolean,
  ) {
    this.requestEnded = end;
  }
}

const STALE_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE']);

export class Channel {
  readonly ws: WebSocket;
  private state: State = 'connecting';
  /** The WebSocket handshake succeeded at some point. */
  wasOpened = false;
  /** Why the handshake failed, when it did. */
  connectError: string | null = null;
  /** GOAWAY received. */
  goaway = false;
  end: ChannelEnd | null = null;
  /** HTTP status of a refused handshake (401, 409, 503…), when there was one. */
  refusedStatus: number | null = null;
  private stopping = false;
  private retiring = false;
  private current: Exchange | null = null;
  private readonly lowWaterMark: number;

  /**
   * @param headers how the channel introduces itself: `authorization` and either the instance id
   *   (Lambda) or the worker id and capacity (container worker), plus the channel index.
   */
  constructor(
    readonly index: number,
    routerUrl: string,
    headers: Record<string, string>,
    handshakeTimeoutMs: number,
    private readonly host: ChannelHost,
  ) {
    this.lowWaterMark = host.options.highWaterMark / 2;
    this.ws = new WebSocket(routerUrl + CHANNEL_PATH, {
      perMessageDeflate: false,
      handshakeTimeout: Math.max(1, Math.round(handshakeTimeoutMs)),
      headers,
    });
    // A refused upgrade: keep the status (and the first bytes of the reason, when they come at once).
    this.ws.on('unexpected-response', (_req, res) => {
      this.refusedStatus = res.statusCode ?? 0;
      let done = false;
      const give = (why: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.connectError ??= `Unexpected server response: ${this.refusedStatus}${why ? ` (${why})` : ''}`;
        res.destroy();
        this.ws.terminate();
      };
      const timer = setTimeout(() => give(''), 200);
      res.once('data', (c: Buffer) => give(c.toString('utf8').trim().slice(0, 200)));
      res.once('end', () => give(''));
      res.once('error', () => give(''));
    });
    this.ws.on('open', () => {
      this.state = 'open';
      this.wasOpened = true;
      this.host.opened(this);
    });
    this.ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    this.ws.on('error', (err: Error) => {
      if (!this.wasOpened) this.connectError ??= err.message;
    });
    this.ws.on('close', () => this.onClose());
  }

  /**
   * Open both in our view and in ws's: once the router's close frame has arrived ws is CLOSING,
   * and ws counts bytes sent then as buffered forever.
   */
  private get sendable(): boolean {
    return this.state === 'open' && this.ws.readyState === WebSocket.OPEN;
  }

  /** Asks the router to stop sending this instance requests (it answers GOAWAY when it is ready). */
  sendCloseRequest(reason: string): void {
    if (this.sendable) this.ws.send(encodeFrame({ type: 'close-request', reason }));
  }

  /** Closes the channel once its current request (if any) has finished. */
  retire(): void {
    this.retiring = true;
    if (this.state === 'connecting') return this.stop();
    if (this.current === null) this.close();
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /** Hard stop: drops the connection and whatever it was serving, now. */
  stop(): void {
    if (this.state === 'closed') return;
    this.stopping = true;
    this.abandonCurrent();
    this.ws.terminate();
  }

  // ── frames from the router ─────────────────────────────────────────────────────────────────

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return this.protocolError('text message on a channel');
    let f: Frame;
    try {
      f = decodeFrame(data);
    } catch (err) {
      return this.protocolError((err as Error).message);
    }
    const ex = this.current;
    switch (f.type) {
      case 'req-head':
        return this.onHead(f.id, f.head, f.end, f.body);
      case 'req-body':
        if (ex !== null && ex.id === f.id) this.onBody(ex, f.body);
        return;
      case 'req-end':
        if (ex !== null && ex.id === f.id) this.onRequestEnd(ex);
        return;
      case 'req-abort':
        if (ex !== null && ex.id === f.id) this.finish(ex, { type: 'res-end', id: ex.id });
        return;
      case 'goaway':
        this.goaway = true;
        this.host.goaway?.(this);
        if (this.current === null) this.close();
        return;
      default:
        return this.protocolError(`unexpected ${f.type} frame from the router`);
    }
  }

  private protocolError(why: string): void {
    this.host.options.log(`lambda-dispatch: channel ${this.index}: protocol error: ${why}`);
    this.abandonCurrent();
    if (this.state === 'open') {
      this.state = 'closing';
      this.ws.close(1002, why.slice(0, 120));
    }
  }

  private onHead(id: number, head: RequestHead, end: boolean, body: Uint8Array | null): void {
    if (this.state !== 'open') return;
    if (this.current !== null) return this.send({ type: 'res-error', id, message: 'channel busy: one request at a time' });
    if (!this.host.acquire()) return this.send({ type: 'res-error', id, message: 'over capacity' });
    const ex = new Exchange(id, head, appHeaders(head.headers, end, body), body, end);
    this.current = ex;
    this.startAppRequest(ex);
  }

  private onBody(ex: Exchange, body: Uint8Array): void {
    const req = ex.appReq;
    if (ex.requestEnded || req === null || body.byteLength === 0) return;
    ex.bodyStreamed = true;
    if (!req.write(body)) this.pauseUntilDrain(ex, req);
  }

  private onRequestEnd(ex: Exchange): void {
    if (ex.requestEnded) return;
    ex.requestEnded = true;
    ex.appReq?.end();
  }

  // ── the app request ────────────────────────────────────────────────────────────────────────

  private startAppRequest(ex: Exchange): void {
    let req: AppRequest;
    try {
      req = this.host.target.request(ex.head.method, ex.head.target, ex.headers);
    } catch (err) {
      // Node refuses the target or a header value (e.g. control characters).
      return this.fail(ex, `the request could not be sent to the app: ${(err as Error).message}`);
    }
    ex.appReq = req;
    req.on('response', (res) => this.onResponse(ex, req, res));
    req.on('error', (err) => this.onAppError(ex, req, err));
    if (ex.inline !== null && ex.inline.byteLength > 0 && !req.write(ex.inline)) this.pauseUntilDrain(ex, req);
    if (ex.requestEnded) req.end();
  }

  private pauseUntilDrain(ex: Exchange, req: AppRequest): void {
    if (ex.wsPaused) return;
    ex.wsPaused = true;
    this.ws.pause();
    req.once('drain', () => {
      if (ex.appReq === req) this.resumeReading(ex);
    });
  }

  private resumeReading(ex: Exchange): void {
    if (!ex.wsPaused) return;
    ex.wsPaused = false;
    this.ws.resume();
  }

  private onAppError(ex: Exchange, req: AppRequest, err: NodeJS.ErrnoException): void {
    if (ex.finished || ex.appReq !== req) return;
    // A pooled connection the app closed while it sat idle (its keep-alive timer, or a thaw after a
    // freeze firing every timer at once): replay once on a fresh one if nothing is lost by it.
    if (
      req.reusedSocket &&
      !ex.retried &&
      !ex.bodyStreamed &&
      ex.appRes === null &&
      err.code !== undefined &&
      STALE_SOCKET_ERRORS.has(err.code)
    ) {
      ex.retried = true;
      ex.appReq = null;
      this.resumeReading(ex);
      return this.startAppRequest(ex);
    }
    if (err.code === 'ECONNREFUSED') this.host.appGone(err);
    const what = ex.headSent ? 'the app failed mid-response' : 'the app could not be reached';
    this.fail(ex, `${what}: ${err.message}`);
  }

  private onResponse(ex: Exchange, req: AppRequest, res: AppResponse): void {
    if (ex.finished || ex.appReq !== req) {
      res.destroy();
      return;
    }
    ex.appRes = res;
    res.on('error', () => {}); // reported through 'close' below
    // The parser hands the rest of the packet (often the whole body) to `res` right after this
    // event; a microtask later it is buffered and can ride in the head's message.
    queueMicrotask(() => this.sendHead(ex, res));
  }

  private sendHead(ex: Exchange, res: AppResponse): void {
    if (ex.finished) return;
    const status = res.statusCode ?? 502;
    let headers = endToEndHeaders(res.rawHeaders);
    const bodyless = ex.head.method === 'HEAD' || status === 204 || status === 304;
    if (!bodyless && this.host.options.compression && shouldCompress(ex.head.method, ex.head.headers, status, headers)) {
      headers = gzipHeaders(headers);
      return this.sendCompressed(ex, res, status, headers);
    }
    ex.source = res;
    let inline: Buffer | null = null;
    let rest: Buffer | null = null;
    let end = bodyless;
    if (bodyless) {
      res.resume();
    } else if (this.host.options.inlineBodyBytes > 0) {
      const chunks: Buffer[] = [];
      for (let chunk: Buffer | null = res.read(); chunk !== null; chunk = res.read()) chunks.push(chunk);
      const buffered = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      let max = this.host.options.inlineBodyBytes;
      if (buffered.length > 0) {
        // The head's message stays within a body frame's size, whatever arrived with the head.
        try {
          max = Math.max(0, Math.min(max, this.host.options.maxChunkBytes - responseHeadSize({ status, headers })));
        } catch {
          // an invalid head: refused below when it is encoded
        }
        inline = buffered.length <= max ? buffered : buffered.subarray(0, max);
        if (buffered.length > max) rest = buffered.subarray(max);
      }
      end = res.complete && rest === null;
      if (end) res.resume();
    }
    try {
      this.send({ type: 'res-head', id: ex.id, head: { status, headers }, end, body: inline });
    } catch (err) {
      res.destroy();
      return this.fail(ex, `the app's response head cannot be relayed: ${(err as Error).message}`);
    }
    ex.headSent = true;
    if (end) return this.finish(ex, null);
    if (rest !== null) this.sendBody(ex, res, rest);
    res.on('data', (chunk: Buffer) => this.sendBody(ex, res, chunk));
    res.on('end', () => this.finish(ex, { type: 'res-end', id: ex.id }));
    res.on('close', () => {
      if (!ex.finished) this.fail(ex, 'the app closed the connection before its response was complete');
    });
  }

  private sendCompressed(ex: Exchange, res: AppResponse, status: number, headers: string[]): void {
    try {
      this.send({ type: 'res-head', id: ex.id, head: { status, headers }, end: false, body: null });
    } catch (err) {
      res.destroy();
      return this.fail(ex, `the app's response head cannot be relayed: ${(err as Error).message}`);
    }
    ex.headSent = true;
    const gz = gzipStream(res);
    ex.source = gz;
    gz.on('data', (chunk: Buffer) => this.sendBody(ex, gz, chunk));
    gz.on('end', () => this.finish(ex, { type: 'res-end', id: ex.id }));
    gz.on('error', (err) => {
      if (!ex.finished) this.fail(ex, `compressing the response failed: ${err.message}`);
    });
    res.on('close', () => {
      if (!ex.finished && !res.complete) {
        gz.destroy();
        this.fail(ex, 'the app closed the connection before its response was complete');
      }
    });
  }

  private sendBody(ex: Exchange, res: Readable, chunk: Buffer): void {
    if (ex.finished || !this.sendable) return;
    const max = this.host.options.maxChunkBytes;
    for (let off = 0; off < chunk.length; off += max) {
      const body = off === 0 && chunk.length <= max ? chunk : chunk.subarray(off, Math.min(off + max, chunk.length));
      this.ws.send(encodeFrame({ type: 'res-body', id: ex.id, body }), this.onSent);
    }
    if (!ex.resPaused && this.ws.bufferedAmount > this.host.options.highWaterMark) {
      ex.resPaused = true;
      res.pause();
    }
  }

  /** A message left for the kernel: resume the app's response once the backlog is small. */
  private readonly onSent = (): void => {
    const ex = this.current;
    if (ex !== null && ex.resPaused && this.ws.bufferedAmount <= this.lowWaterMark) {
      ex.resPaused = false;
      ex.source?.resume();
    }
  };

  // ── ending a request ───────────────────────────────────────────────────────────────────────

  private fail(ex: Exchange, message: string): void {
    this.finish(ex, { type: 'res-error', id: ex.id, message });
  }

  /** Sends the request's last frame (if any), frees the channel, and closes it after GOAWAY. */
  private finish(ex: Exchange, last: Frame | null): void {
    if (ex.finished) return;
    ex.finished = true;
    if (last !== null) this.send(last);
    this.release(ex);
    if (this.goaway || this.retiring) this.close();
  }

  private release(ex: Exchange): void {
    this.resumeReading(ex);
    // The socket goes back to the pool only after a complete exchange; anything else (abort, error,
    // an app that answered before reading the whole body) ends the connection.
    const clean = ex.requestEnded && ex.appRes !== null && ex.appRes.complete;
    if (!clean) ex.appReq?.destroy();
    if (ex.source !== null && ex.source !== ex.appRes) ex.source.destroy();
    if (this.current === ex) {
      this.current = null;
      this.host.release();
    }
  }

  private abandonCurrent(): void {
    const ex = this.current;
    if (ex === null) return;
    ex.finished = true;
    ex.requestEnded = false; // forces the app connection closed
    this.release(ex);
  }

  private send(f: Frame): void {
    if (this.sendable) this.ws.send(encodeFrame(f), this.onSent);
  }

  private close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.ws.close(1000, 'goaway');
  }

  private onClose(): void {
    this.abandonCurrent();
    this.state = 'closed';
    this.end = !this.wasOpened ? 'refused' : this.goaway ? 'goaway' : this.stopping ? 'stopped' : this.retiring ? 'retired' : 'lost';
    this.host.closed(this);
  }
}

/**
 * The request headers as the app gets them: hop-by-hop ones removed, a Host if the client sent
 * none, and explicit framing so that a body is never sent unframed (Node frames GET/DELETE/OPTIONS
 * bodies only when told).
 */
export function appHeaders(raw: readonly string[], end: boolean, inline: Uint8Array | null): string[] {
  const h = endToEndHeaders(raw);
  let hasHost = false;
  let hasLength = false;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!;
    if (name === 'host') hasHost = true;
    else if (name === 'content-length') hasLength = true;
  }
  if (!hasHost) h.push('host', 'localhost');
  if (!hasLength) {
    if (!end) h.push('transfer-encoding', 'chunked');
    else if (inline !== null && inline.byteLength > 0) h.push('content-length', String(inline.byteLength));
  }
  return h;
}
