// The extension's end of one channel (one WebSocket to the router), serving one request at a time,
// or several when the router multiplexes it (docs/PROTOCOL.md, "Channels", "Frames" and
// "Multiplexed channels"): REQ_* frames become a request to the app (in-memory
// for an in-process listener, loopback HTTP for a `{ port }` app), the app's response goes back as
// RES_* frames; each request's own state is an AppCall (app-call.ts).
//
// What is sent when:
//   REQ_HEAD on a busy channel             → RES_ERROR 'channel busy' (the current request goes on);
//                                              a multiplexed channel is busy only with a tunnel
//   REQ_HEAD beyond maxConcurrent           → RES_ERROR 'over capacity'
//   app response head                       → RES_HEAD, hop-by-hop headers removed, with the body
//                                              bytes that arrived with it inline (up to
//                                              inlineBodyBytes, and never a message larger than
//                                              a RES_BODY) and flag END when that is all of it
//                                              (always for HEAD, 204 and 304)
//   app informational response (1xx)       → RES_INFO, when the router announced `info` (not 100:
//                                              the router's own server answers Expect itself)
//   app response body                       → RES_BODY (≤ maxChunkBytes each), then RES_END, with
//                                              the app's trailers when the router announced
//                                              `trailers`
//   a reason phrase other than the standard → carried in RES_HEAD/RES_INFO (FLAG_REASON) when the
//                                              router announced `reason`
//   app unreachable / fails at any point    → RES_ERROR (the router answers 502 or resets)
//   REQ_ABORT for the current request       → app request destroyed, RES_END
//   any frame for another id                → ignored (stale: the request already ended)
//   GOAWAY                                  → the current requests finish, then the channel closes
//   CREDIT (multiplexed)                    → that request's response may send as many more bytes
//   CHANNELS n                              → the invocation holds channels 0 … n − 1 (invocation.ts)
// Responses are gzipped on the way when compression is on and the request and response allow it
// (compression.ts); a compressed body is never sent inline with the head.
// Memory per request is bounded both ways: the app's response is paused while the channel has more
// than highWaterMark bytes unsent, and the channel stops reading while the app's request is not
// draining. A multiplexed channel cannot stop reading for one request: there each request's body
// is paced by CREDIT frames, both ways, and the socket's buffer still pauses every response.
// Long because one channel's connection, frames both ways, app request and backpressure share one
// state machine: the response path (head, 1xx, body, gzip, trailers) reads the socket's buffered
// amount, the router's features and the current call, and ends in finish()/release(), which free
// the channel. The per-request state is already apart (app-call.ts), as are the pinned socket
// (channel-socket.ts), header rules (app-headers.ts), refusals (handshake-refusal.ts) and upgraded
// connections (app-tunnel.ts, which sees the channel only through the small TunnelChannel it is
// given here); what is left would need all of this class's fields if split again. A multiplexed
// channel's credit (sendFrames/flow/grant) is the same backpressure with another trigger: it reads
// the socket's buffered amount and the router's frames as the rest does, so it stays beside them.

import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, headerListSize, type Frame, type HeaderList, type LoadReport, type RequestHead, type ResponseHead } from '../core/frames.ts';
import { endToEndHeaders } from '../core/http-headers.ts';
import { IdMap } from '../core/id-map.ts';
import { batchWrites } from '../core/write-batch.ts';
import { CERT_PIN_MISMATCH } from '../core/cert-pin.ts';
import { CHANNEL_FEATURES, CHANNEL_PATH, FEATURES_HEADER, MUX_CREDIT_BATCH, MUX_WINDOW_BYTES, parseFeatures, type ChannelFeature } from '../core/protocol.ts';
import { AppCall, takeInline, whyIncomplete } from './app-call.ts';
import { AppTunnel, type TunnelChannel, type TunnelCloseCode } from './app-tunnel.ts';
import { appHeaders } from './app-headers.ts';
import { openChannelSocket } from './channel-socket.ts';
import { readRefusal } from './handshake-refusal.ts';
import type { AppInformation, AppRequest, AppResponse, AppTarget } from './app/target.ts';
import { gzipHeaders, gzipStream, shouldCompress } from './compression.ts';
import type { ResolvedOptions } from './types.ts';

/** What a channel needs from the invocation that owns it. */
export interface ChannelHost {
  readonly target: AppTarget;
  readonly options: ResolvedOptions;
  /** Takes one of the invocation's request slots (counts the request); false when all are taken. */
  acquire(): boolean;
  release(): void;
  opened(ch: ChannelClient): void;
  closed(ch: ChannelClient): void;
  /** The app refused a connection: nothing listens any more. */
  appGone(err: Error): void;
  /** GOAWAY arrived on this channel. */
  goaway?(ch: ChannelClient): void;
  /** The instance is leaving for its deadline: a tunnel opened now is closed with 1012 at once. */
  isLeaving?(): boolean;
  /** The router asked for this many channels (CHANNELS; only to a host that announced `channels`). */
  holdChannels?(count: number): void;
  /** A request ended (its access-log line): `error` when it failed. */
  requestEnded?(call: AppCall, error: string | null): void;
}

/**
 * How a channel ended: `goaway` (router asked), `lost` (closed by the other side or the network
 * without GOAWAY), `refused` (never opened), `stopped` (closed by us at the hard stop), `retired`
 * (closed by us once idle: the instance or worker is leaving).
 */
export type ChannelEnd = 'goaway' | 'lost' | 'refused' | 'stopped' | 'retired';

type State = 'connecting' | 'open' | 'closing' | 'closed';

export class ChannelClient {
  /** Set at once for ws://, after the certificate check for wss:// (channel-socket.ts). */
  ws!: WebSocket;
  private state: State = 'connecting';
  /** The WebSocket handshake succeeded at some point. */
  wasOpened = false;
  /** Why the handshake failed, when it did. */
  connectError: string | null = null;
  /** The router's certificate was not the pinned one (nothing was sent to it). */
  pinMismatch = false;
  /** GOAWAY received. */
  goaway = false;
  end: ChannelEnd | null = null;
  /** HTTP status of a refused handshake (401, 409, 503…), when there was one. */
  refusedStatus: number | null = null;
  /** The optional protocol features the router named in its answer to the upgrade (core/protocol.ts). */
  features: ReadonlySet<ChannelFeature> = new Set();
  private stopping = false;
  private retiring = false;
  /**
   * The requests it serves, by id: one at most unless multiplexed. An IdMap, not a Map: under
   * churn a Map's old hash tables keep finished requests alive (core/id-map.ts).
   */
  private readonly calls = new IdMap<AppCall>();
  /** Calls whose response is paused (for the socket's buffer or, windowed, for credit). */
  private pausedCalls = 0;
  /** The router answered `mux`: several requests at once, bodies paced by CREDIT frames. */
  private multiplexed = false;
  /** An upgraded connection holding this channel (app-tunnel.ts); exclusive with `calls`. */
  private tunnel: AppTunnel | null = null;
  private readonly lowWaterMark: number;
  /** Abandons the certificate check of a wss:// channel still connecting. */
  private readonly connecting = new AbortController();

  /**
   * @param headers how the channel introduces itself: `authorization` and either the instance id
   *   (Lambda) or the worker id and capacity (container worker), plus the channel index.
   * @param certSha256 the pin of the router's certificate; required for a wss:// routerUrl.
   */
  constructor(
    readonly index: number,
    routerUrl: string,
    headers: Record<string, string>,
    handshakeTimeoutMs: number,
    private readonly host: ChannelHost,
    certSha256?: string,
  ) {
    this.lowWaterMark = host.options.highWaterMark / 2;
    const options = { perMessageDeflate: false, handshakeTimeout: Math.max(1, Math.round(handshakeTimeoutMs)), headers };
    const ws = openChannelSocket(routerUrl + CHANNEL_PATH, options, certSha256, this.connecting.signal);
    if (ws instanceof WebSocket) this.attach(ws);
    else ws.then(
      (opened) => {
        this.attach(opened);
        if (this.stopping) opened.terminate();
      },
      (err: Error & { code?: string }) => {
        this.pinMismatch = err.code === CERT_PIN_MISMATCH;
        this.connectError ??= err.message;
        if (this.state !== 'closed') this.onClose();
      },
    );
  }

  private attach(ws: WebSocket): void {
    this.ws = ws;
    // A refused upgrade: keep the status (and the first bytes of the reason, when they come at once).
    ws.on('unexpected-response', (_req, res) => {
      this.refusedStatus = res.statusCode ?? 0;
      readRefusal(res, (message) => {
        this.connectError ??= message;
        ws.terminate();
      });
    });
    ws.on('upgrade', (res) => {
      this.features = parseFeatures(res.headers[FEATURES_HEADER], CHANNEL_FEATURES);
      this.multiplexed = this.features.has('mux');
    });
    ws.on('open', () => {
      this.state = 'open';
      this.wasOpened = true;
      this.host.opened(this);
    });
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('error', (err: Error) => {
      if (!this.wasOpened) this.connectError ??= err.message;
    });
    ws.on('close', () => this.onClose());
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

  /** A LOAD report, when this channel is open and its router takes them; false otherwise. */
  sendLoad(load: LoadReport): boolean {
    if (!this.sendable || !this.features.has('load')) return false;
    this.ws.send(encodeFrame({ type: 'load', load }));
    return true;
  }

  /** Closes the channel once its current request or tunnel (if any) has finished. */
  retire(): void {
    this.retiring = true;
    if (this.state === 'connecting') return this.stop();
    if (!this.busy) this.close();
  }

  get busy(): boolean {
    return this.calls.size > 0 || this.tunnel !== null;
  }

  /** Closes this channel's tunnel, if it has one, as its instance must go (app-tunnel.ts). */
  closeTunnel(code: TunnelCloseCode): boolean {
    if (this.tunnel === null) return false;
    this.tunnel.close(code);
    return true;
  }

  // ── upgrades ───────────────────────────────────────────────────────────────────────────────

  /**
   * A request to switch protocols: a tunnel, not an AppCall. It takes none of the instance's
   * request slots: the router counts sockets apart (MaxSocketsPerInstance).
   */
  private onUpgrade(id: number, head: RequestHead, body: Uint8Array | null): void {
    if (this.state !== 'open') return;
    if (this.busy) return this.send({ type: 'res-error', id, message: 'channel busy: one request at a time' });
    this.tunnel = new AppTunnel(id, head, this.tunnelChannel(), this.host.target);
    this.tunnel.start(body);
    if (this.host.isLeaving?.() === true) this.tunnel?.close(1012);
  }

  private tunnelChannel(): TunnelChannel {
    return {
      send: (f, sent) => {
        if (!this.sendable) return;
        this.batchWrites();
        this.ws.send(encodeFrame(f), sent ?? this.onSent);
      },
      buffered: () => (this.sendable ? this.ws.bufferedAmount : 0),
      highWaterMark: this.host.options.highWaterMark,
      maxChunkBytes: this.host.options.maxChunkBytes,
      pauseReading: () => this.ws.pause(),
      resumeReading: () => this.ws.resume(),
      ended: (t) => {
        if (this.tunnel !== t) return;
        this.tunnel = null;
        this.ws.resume();
        if (this.goaway || this.retiring) this.close();
      },
    };
  }

  /** Hard stop: drops the connection and whatever it was serving, now. */
  stop(): void {
    if (this.state === 'closed') return;
    this.stopping = true;
    this.abandonCalls();
    this.tunnel?.stop();
    if (this.ws === undefined) return this.connecting.abort(); // the rejection closes the channel
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
    const tunnel = this.tunnel;
    if (tunnel !== null && (f.type === 'req-body' || f.type === 'req-end' || f.type === 'req-abort') && f.id === tunnel.id) return tunnel.fromRouter(f);
    const call = f.type === 'req-body' || f.type === 'req-end' || f.type === 'req-abort' || f.type === 'credit' ? this.calls.get(f.id) : undefined;
    switch (f.type) {
      case 'req-head':
        if (f.upgrade === true) return this.onUpgrade(f.id, f.head, f.body);
        return this.onHead(f.id, f.head, f.end, f.body);
      case 'req-body':
        if (call !== undefined) this.onBody(call, f.body);
        return;
      case 'req-end':
        if (call !== undefined) this.onRequestEnd(call);
        return;
      case 'req-abort':
        if (call !== undefined) {
          call.aborted = true;
          this.finish(call, { type: 'res-end', id: call.id });
        }
        return;
      case 'credit':
        if (!this.multiplexed) return this.protocolError('CREDIT on a channel that is not multiplexed');
        if (call !== undefined) this.onCredit(call, f.bytes);
        return;
      case 'goaway':
        this.goaway = true;
        this.host.goaway?.(this);
        if (this.tunnel !== null) this.tunnel.close(1001);
        else if (this.calls.size === 0) this.close();
        return;
      case 'channels':
        if (this.host.holdChannels === undefined) return this.protocolError('CHANNELS frame to a host that did not announce `channels`');
        return this.host.holdChannels(f.count);
      default:
        return this.protocolError(`unexpected ${f.type} frame from the router`);
    }
  }

  private protocolError(why: string): void {
    this.host.options.log(`lambda-dispatch: channel ${this.index}: protocol error: ${why}`);
    this.abandonCalls();
    if (this.state === 'open') {
      this.state = 'closing';
      this.ws.close(1002, why.slice(0, 120));
    }
  }

  private onHead(id: number, head: RequestHead, end: boolean, body: Uint8Array | null): void {
    if (this.state !== 'open') return;
    if (this.tunnel !== null || (!this.multiplexed && this.calls.size > 0)) return this.send({ type: 'res-error', id, message: 'channel busy: one request at a time' });
    if (this.calls.has(id)) return this.protocolError(`a second request with id ${id}`);
    if (!this.host.acquire()) return this.send({ type: 'res-error', id, message: 'over capacity' });
    const call = new AppCall(id, head, appHeaders(head.headers, end, body), body, end);
    if (this.multiplexed) {
      call.windowed = true;
      call.credit = MUX_WINDOW_BYTES;
    }
    this.calls.set(id, call);
    this.startAppRequest(call);
  }

  private onBody(call: AppCall, body: Uint8Array): void {
    const req = call.appReq;
    if (call.requestEnded || req === null || body.byteLength === 0) return;
    call.bodyStreamed = true;
    if (!call.windowed) {
      if (!req.write(body)) this.pauseUntilDrain(call, req);
      return;
    }
    // The router sends no more than its credit: what the app has not taken is credited on 'drain'.
    call.owed += body.byteLength;
    const taken = req.write(body);
    if (call.awaitingDrain) return;
    if (taken) return this.grant(call);
    call.awaitingDrain = true;
    req.once('drain', () => {
      call.awaitingDrain = false;
      if (call.appReq === req) this.grant(call);
    });
  }

  /** Credits the router with the request body bytes the app has taken, a quarter window at a time. */
  private grant(call: AppCall): void {
    const bytes = call.owed;
    if (bytes < MUX_CREDIT_BATCH || call.finished || call.requestEnded) return;
    call.owed = 0;
    this.send({ type: 'credit', id: call.id, bytes });
  }

  /** The router's client took `bytes` more of this response: send on, if the socket allows. */
  private onCredit(call: AppCall, bytes: number): void {
    call.credit += bytes;
    this.flow(call);
  }

  private onRequestEnd(call: AppCall): void {
    if (call.requestEnded) return;
    call.requestEnded = true;
    call.appReq?.end();
  }

  // ── the app request ────────────────────────────────────────────────────────────────────────

  private startAppRequest(call: AppCall): void {
    let req: AppRequest;
    try {
      req = this.host.target.request(call.head.method, call.head.target, call.headers);
    } catch (err) {
      // Node refuses the target or a header value (e.g. control characters).
      return this.fail(call, `the request could not be sent to the app: ${(err as Error).message}`);
    }
    call.appReq = req;
    req.on('response', (res) => this.onResponse(call, req, res));
    req.on('information', (info) => this.onInformation(call, req, info));
    req.on('error', (err) => this.onAppError(call, req, err));
    // An inline body is small and counts against no credit; a windowed call never pauses the socket.
    if (call.inline !== null && call.inline.byteLength > 0 && !req.write(call.inline) && !call.windowed) this.pauseUntilDrain(call, req);
    if (call.requestEnded) req.end();
  }

  private pauseUntilDrain(call: AppCall, req: AppRequest): void {
    if (call.wsPaused) return;
    call.wsPaused = true;
    this.ws.pause();
    req.once('drain', () => {
      if (call.appReq === req) this.resumeReading(call);
    });
  }

  private resumeReading(call: AppCall): void {
    if (!call.wsPaused) return;
    call.wsPaused = false;
    this.ws.resume();
  }

  private onAppError(call: AppCall, req: AppRequest, err: NodeJS.ErrnoException): void {
    if (call.finished || call.appReq !== req) return;
    if (call.mayReplay(req, err)) {
      call.retried = true;
      call.appReq = null;
      this.resumeReading(call);
      return this.startAppRequest(call);
    }
    if (err.code === 'ECONNREFUSED') this.host.appGone(err);
    const what = call.headSent ? 'the app failed mid-response' : 'the app could not be reached';
    this.fail(call, `${what}: ${err.message}`);
  }

  /** The head to send for a status, its reason phrase (when it is not the standard one and the router takes it) and fields. */
  private responseHead(status: number, statusMessage: string | undefined, headers: HeaderList): ResponseHead {
    if (statusMessage !== undefined && this.features.has('reason') && statusMessage !== (STATUS_CODES[status] ?? 'unknown')) {
      return { status, reason: statusMessage, headers };
    }
    return { status, headers };
  }

  /** The response's trailers to send with RES_END: only to a router that takes them, only valid ones. */
  private trailersOf(res: AppResponse): HeaderList | undefined {
    if (!this.features.has('trailers') || res.rawTrailers === undefined || res.rawTrailers.length === 0) return undefined;
    const trailers = endToEndHeaders(res.rawTrailers);
    try {
      headerListSize(trailers);
    } catch {
      return undefined;
    }
    return trailers.length > 0 ? trailers : undefined;
  }

  private onInformation(call: AppCall, req: AppRequest, info: AppInformation): void {
    if (call.finished || call.appReq !== req || call.headSent || !this.features.has('info')) return;
    // 100 Continue answered the app's own server's Expect handling; the router's server already
    // answered the client's.
    if (info.statusCode === 100 || info.statusCode === 101 || info.statusCode < 100 || info.statusCode > 199) return;
    let f: Buffer;
    try {
      f = encodeFrame({ type: 'res-info', id: call.id, head: this.responseHead(info.statusCode, info.statusMessage, endToEndHeaders(info.rawHeaders)) });
    } catch {
      return; // one the protocol cannot carry is dropped: 1xx responses are advisory
    }
    if (this.sendable) this.ws.send(f, this.onSent);
  }

  private onResponse(call: AppCall, req: AppRequest, res: AppResponse): void {
    if (call.finished || call.appReq !== req) {
      res.destroy();
      return;
    }
    call.appRes = res;
    res.on('error', () => {}); // reported through 'close' below
    // The parser hands the rest of the packet (often the whole body) to `res` right after this
    // event; a microtask later it is buffered and can ride in the head's message.
    queueMicrotask(() => this.sendHead(call, res));
  }

  private sendHead(call: AppCall, res: AppResponse): void {
    if (call.finished) return;
    const status = res.statusCode ?? 502;
    let headers = endToEndHeaders(res.rawHeaders);
    const bodyless = call.head.method === 'HEAD' || status === 204 || status === 304;
    if (!bodyless && this.host.options.compression && shouldCompress(call.head.method, call.head.headers, status, headers)) {
      headers = gzipHeaders(headers);
      return this.sendCompressed(call, res, this.responseHead(status, res.statusMessage, headers));
    }
    const head = this.responseHead(status, res.statusMessage, headers);
    call.source = res;
    let inline: Buffer | null = null;
    let rest: Buffer | null = null;
    let end = bodyless;
    let trailers: HeaderList | undefined;
    if (bodyless) {
      res.resume();
    } else if (this.host.options.inlineBodyBytes > 0) {
      ({ inline, rest, end } = takeInline(res, head, this.host.options.inlineBodyBytes, this.host.options.maxChunkBytes));
      if (end) {
        res.resume();
        // A whole response with trailers: they need a RES_END after the head.
        trailers = this.trailersOf(res);
      }
    }
    try {
      this.send({ type: 'res-head', id: call.id, head, end: end && trailers === undefined, body: inline });
    } catch (err) {
      res.destroy();
      return this.fail(call, `the app's response head cannot be relayed: ${(err as Error).message}`);
    }
    call.headSent = true;
    if (end) return this.finish(call, trailers === undefined ? null : { type: 'res-end', id: call.id, trailers });
    if (rest !== null) this.sendBody(call, res, rest);
    res.on('data', (chunk: Buffer) => this.sendBody(call, res, chunk));
    res.on('end', () => this.endResponse(call, { type: 'res-end', id: call.id, trailers: this.trailersOf(res) }));
    res.on('close', () => {
      // Ended with bytes still held for credit: not incomplete, only not yet sent.
      if (!call.finished && call.pendingEnd === null) this.fail(call, whyIncomplete(res));
    });
  }

  private sendCompressed(call: AppCall, res: AppResponse, head: ResponseHead): void {
    try {
      this.send({ type: 'res-head', id: call.id, head, end: false, body: null });
    } catch (err) {
      res.destroy();
      return this.fail(call, `the app's response head cannot be relayed: ${(err as Error).message}`);
    }
    call.headSent = true;
    const gz = gzipStream(res);
    call.source = gz;
    gz.on('data', (chunk: Buffer) => this.sendBody(call, gz, chunk));
    gz.on('end', () => this.endResponse(call, { type: 'res-end', id: call.id, trailers: this.trailersOf(res) }));
    gz.on('error', (err) => {
      if (!call.finished) this.fail(call, `compressing the response failed: ${err.message}`);
    });
    res.on('close', () => {
      if (!call.finished && !res.complete) {
        gz.destroy();
        this.fail(call, whyIncomplete(res));
      }
    });
  }

  private sendBody(call: AppCall, res: Readable, chunk: Buffer): void {
    if (call.finished || !this.sendable) return;
    if (call.held.length > 0) call.held.push(chunk);
    else {
      const rest = this.sendFrames(call, chunk);
      if (rest !== null) call.held.push(rest);
    }
    if (!call.resPaused && (call.held.length > 0 || (call.windowed && call.credit <= 0) || this.ws.bufferedAmount > this.host.options.highWaterMark)) {
      call.resPaused = true;
      this.pausedCalls++;
      res.pause();
    }
  }

  /**
   * `chunk` as RES_BODY frames of at most maxChunkBytes. A windowed call sends while it has credit
   * (the last frame may take it below zero) and gets back what it could not send: one large write
   * of the app (`res.end(buffer)`) must not overrun the window.
   */
  private sendFrames(call: AppCall, chunk: Buffer): Buffer | null {
    const max = this.host.options.maxChunkBytes;
    this.batchWrites();
    for (let off = 0; off < chunk.length; off += max) {
      if (call.windowed && call.credit <= 0) return chunk.subarray(off);
      const body = off === 0 && chunk.length <= max ? chunk : chunk.subarray(off, Math.min(off + max, chunk.length));
      this.ws.send(encodeFrame({ type: 'res-body', id: call.id, body }), this.onSent);
      if (call.windowed) call.credit -= body.length;
    }
    return null;
  }

  /** The response ended: its RES_END waits for the bytes held for credit. */
  private endResponse(call: AppCall, last: Frame): void {
    if (call.held.length > 0) call.pendingEnd = last;
    else this.finish(call, last);
  }

  /**
   * Credit came or the socket drained: what was held goes first, then the deferred end or the
   * app's response again.
   */
  private flow(call: AppCall): void {
    if (call.finished || !this.sendable || this.ws.bufferedAmount > this.host.options.highWaterMark) return;
    while (call.held.length > 0 && call.credit > 0) {
      const rest = this.sendFrames(call, call.held[0]!);
      if (rest === null) call.held.shift();
      else {
        call.held[0] = rest;
        return;
      }
    }
    if (call.held.length > 0) return;
    if (call.pendingEnd !== null) return this.finish(call, call.pendingEnd);
    if (call.resPaused && (!call.windowed || call.credit > 0) && this.ws.bufferedAmount <= this.lowWaterMark) {
      call.resPaused = false;
      this.pausedCalls--;
      call.source?.resume();
    }
  }

  /** A message left for the kernel: let the paused responses go on once the backlog is small. */
  private readonly onSent = (): void => {
    if (this.pausedCalls === 0 || this.ws.bufferedAmount > this.lowWaterMark) return;
    for (const call of this.calls.values()) if (call.resPaused) this.flow(call);
  };

  // ── ending a request ───────────────────────────────────────────────────────────────────────

  private fail(call: AppCall, message: string): void {
    this.finish(call, { type: 'res-error', id: call.id, message });
  }

  /** Sends the request's last frame (if any), frees the channel, and closes it after GOAWAY. */
  private finish(call: AppCall, last: Frame | null): void {
    if (call.finished) return;
    call.finished = true;
    if (last !== null) this.send(last);
    this.host.requestEnded?.(call, last?.type === 'res-error' ? last.message : null);
    this.release(call);
    if ((this.goaway || this.retiring) && !this.busy) this.close();
  }

  private release(call: AppCall): void {
    this.resumeReading(call);
    // The socket goes back to the pool only after a complete exchange; anything else (abort, error,
    // an app that answered before reading the whole body) ends the connection.
    const clean = call.requestEnded && call.appRes !== null && call.appRes.complete;
    if (!clean) call.appReq?.destroy();
    if (call.source !== null && call.source !== call.appRes) call.source.destroy();
    if (call.resPaused) {
      call.resPaused = false;
      this.pausedCalls--;
    }
    if (this.calls.get(call.id) === call) {
      this.calls.delete(call.id);
      this.host.release();
    }
  }

  private abandonCalls(): void {
    for (const call of this.calls.values()) {
      call.finished = true;
      call.requestEnded = false; // forces the app connection closed
      this.release(call);
    }
  }

  private send(f: Frame): void {
    if (!this.sendable) return;
    this.batchWrites();
    this.ws.send(encodeFrame(f), this.onSent);
  }

  /** Frames sent in one tick (a head, its body chunks, the end; on a multiplexed channel, every answer) leave in one write. */
  private batchWrites(): void {
    batchWrites(this.ws);
  }

  private close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.ws.close(1000, 'goaway');
  }

  private onClose(): void {
    this.abandonCalls();
    this.tunnel?.stop();
    this.tunnel = null;
    this.state = 'closed';
    this.end = !this.wasOpened ? 'refused' : this.goaway ? 'goaway' : this.stopping ? 'stopped' : this.retiring ? 'retired' : 'lost';
    this.host.closed(this);
  }
}
