// The client side of the router: streams each HTTP request into the request ring and writes each
// response from the response ring back to its client. Sockets live here because Node cannot move
// them between threads; everything else happens in the dispatcher thread.

import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { routerError, type RouterErrorCode } from '../core/errors.ts';
import { endToEndHeaders } from '../core/http-headers.ts';
import { FLAG_END, FLAG_UPGRADE, asBuffer, readResponseHead, requestHeadSize, writeRequestHead, type RequestHead } from '../core/frames.ts';
import { STATUS_TEXT, addTrailers, answer, closeAfterFlush, requestHasBody, writeRaw } from './client-response.ts';
import { Rec, decodeCredit, encodeCredit, encodeRoute, readReport, type RequestReport } from '../core/records.ts';
import type { RingWriter } from '../core/ring-writer.ts';
import { ensureTraceContext, type TraceContext } from '../core/trace-context.ts';
import { ForwardedHeaders } from './forwarded.ts';
import { SlotTable } from './slots.ts';
import { Tunnel, type TunnelHost } from './tunnel.ts';
import type { RequestRecord } from './telemetry/request-record.ts';

interface ClientExchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** Body bytes written to the ring and not yet credited by the dispatcher. */
  unacked: number;
  /** The request stream is paused for want of credit. */
  windowFull: boolean;
  /** The terminal record arrived; the slot is free. */
  done: boolean;
  /** Nothing more goes to the client (it left, or the head was refused); await the terminal record. */
  discard: boolean;
  onData?: (chunk: Buffer) => void;
  onEnd?: () => void;
  /** For the request's record (metrics, access log). */
  startedAt: number;
  bytesIn: number;
  bytesOut: number;
  /** The client went away before its response ended. */
  clientGone: boolean;
  trace: TraceContext;
  /**
   * A whole response's body (its head said FLAG_END), held for the terminal record that follows
   * it in the same drain: `res.end(body)` sends head and body in one socket write, where a write
   * and then an end would take two.
   */
  wholeBody?: Buffer;
}

export class Proxy implements TunnelHost {
  private readonly slots = new SlotTable<ClientExchange | Tunnel>();
  private blocked = false;
  /** Nothing can be served any more: the dispatcher is gone. */
  private down = false;
  /** SIGTERM: new requests get 503 LD_SHUTTING_DOWN; every response closes its connection. */
  private draining = false;
  /** Request bodies that filled their window (the app reads slower than the client sends). */
  windowStalls = 0;

  constructor(
    readonly ring: RingWriter,
    readonly windowBytes: number,
    private readonly forwarded: ForwardedHeaders = new ForwardedHeaders([]),
    /** Every request, once, when it ends: the metrics and the access log. */
    private readonly ended: (r: RequestRecord) => void = () => {},
  ) {}

  /** Requests currently between their head and their terminal record (tunnels included). */
  get active(): number {
    return this.slots.size;
  }

  get ringBlocked(): boolean {
    return this.blocked;
  }

  /**
   * A request to switch protocols (`server.on('upgrade')`): the same way into the dispatcher,
   * flagged FLAG_UPGRADE; the slot is a Tunnel (tunnel.ts) from here to its terminal record.
   */
  /** `fn`: as for handle(); null when no function is routed it (404 LD_NO_ROUTE, as for a request). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, fn?: number | null): void {
    const headers = this.forwarded.headersOf(req);
    // Hop-by-hop, but what this request is about: the extension asks its app for the same protocol.
    if (req.headers.upgrade !== undefined) headers.push('upgrade', req.headers.upgrade);
    const trace = ensureTraceContext(headers);
    const tunnel = new Tunnel(req, socket, this, trace);
    const refused = (code: RouterErrorCode | 'LD_SHUTTING_DOWN', detail?: string) => {
      tunnel.refuse(code, detail);
      this.ended(tunnel.record(null, code));
    };
    if (this.draining) return refused('LD_SHUTTING_DOWN');
    if (this.down) return refused('LD_DISPATCHER_DOWN');
    if (fn === null) return refused('LD_NO_ROUTE');
    const requestHead: RequestHead = { method: req.method ?? 'GET', target: req.url ?? '/', headers };
    const size = 1 + requestHeadSize(requestHead);
    if (size > this.ring.maxPayload) return refused('LD_HEAD_TOO_LARGE');
    tunnel.slot = this.slots.add(tunnel);
    if (fn != null) this.ring.write(Rec.ROUTE, tunnel.slot, encodeRoute(fn));
    this.ring.writeWith(Rec.REQ_HEAD, tunnel.slot, size, (dst) => {
      dst[0] = FLAG_UPGRADE;
      writeRequestHead(asBuffer(dst), 1, requestHead);
    });
    tunnel.start(head);
  }

  finished(tunnel: Tunnel, report: RequestReport | null, routerError: string | null): void {
    tunnel.done = true;
    this.slots.delete(tunnel.slot);
    this.ended(tunnel.record(report, routerError));
  }

  /**
   * `fn`: the function's index when several share the router (a ROUTE record goes before the
   * head); undefined with one function.
   */
  handle(req: IncomingMessage, res: ServerResponse, fn?: number): void {
    const startedAt = performance.now();
    if (this.draining) return this.refuse(req, res, startedAt, 'LD_SHUTTING_DOWN', undefined, true);
    const headers = this.forwarded.headersOf(req);
    const trace = ensureTraceContext(headers);
    const head: RequestHead = { method: req.method ?? 'GET', target: req.url ?? '/', headers };
    if (this.down) return this.refuse(req, res, startedAt, 'LD_DISPATCHER_DOWN', undefined, false, trace);
    let size: number;
    try {
      size = 1 + requestHeadSize(head);
      if (size > this.ring.maxPayload) throw new Error(`request head of ${size} bytes exceeds ${this.ring.maxPayload}`);
    } catch (err) {
      // A head the channel protocol or the ring cannot carry (Node's own limit normally stops it first).
      return this.refuse(req, res, startedAt, 'LD_HEAD_TOO_LARGE', (err as Error).message, true, trace);
    }
    const cx: ClientExchange = { req, res, unacked: 0, windowFull: false, done: false, discard: false, startedAt, bytesIn: 0, bytesOut: 0, clientGone: false, trace };
    const slot = this.slots.add(cx);
    const hasBody = requestHasBody(req);
    if (fn !== undefined) this.ring.write(Rec.ROUTE, slot, encodeRoute(fn));
    this.ring.writeWith(Rec.REQ_HEAD, slot, size, (dst) => {
      dst[0] = hasBody ? 0 : FLAG_END;
      writeRequestHead(asBuffer(dst), 1, head);
    });

    if (hasBody) {
      cx.onData = (chunk: Buffer) => {
        this.ring.write(Rec.REQ_BODY, slot, chunk);
        cx.unacked += chunk.length;
        cx.bytesIn += chunk.length;
        if (cx.unacked >= this.windowBytes) {
          this.windowStalls++;
          cx.windowFull = true;
          req.pause();
        }
      };
      cx.onEnd = () => this.ring.write(Rec.REQ_END, slot);
      req.on('data', cx.onData);
      req.on('end', cx.onEnd);
      if (this.blocked) req.pause();
    }
    // 'close' before the response finished means the client went away.
    res.on('close', () => {
      if (!cx.done && !res.writableFinished) {
        cx.clientGone = true;
        cx.discard = true;
        this.ring.write(Rec.REQ_ABORT, slot);
      }
    });
  }

  /** No function is routed this request (several share the router): 404 LD_NO_ROUTE from the router. */
  noRoute(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    if (this.draining) return this.refuse(req, res, startedAt, 'LD_SHUTTING_DOWN', undefined, true);
    this.refuse(req, res, startedAt, 'LD_NO_ROUTE');
  }

  /** Response ring consumer. The payload view is only valid during the call. */
  onRecord = (type: number, slot: number, payload: Uint8Array): void => {
    const cx = this.slots.get(slot);
    if (cx === undefined || cx.done) return;
    if (cx instanceof Tunnel) return cx.onRecord(type, payload);
    if (cx.discard) {
      if (type === Rec.RES_END || type === Rec.RES_ERROR) this.finish(cx, slot, readReport(payload).report);
      return;
    }
    switch (type) {
      case Rec.RES_HEAD:
        return this.onHead(cx, slot, payload);
      case Rec.RES_BODY: {
        // A held whole body is followed by its end, never by more body; should one come, order holds.
        if (cx.wholeBody !== undefined) {
          cx.res.write(cx.wholeBody);
          cx.wholeBody = undefined;
        }
        const chunk = Buffer.from(payload);
        const n = chunk.length;
        cx.bytesOut += n;
        cx.res.write(chunk, () => {
          if (!cx.done) this.ring.write(Rec.CREDIT, slot, encodeCredit(n));
        });
        return;
      }
      case Rec.RES_INFO:
        return this.onInfo(cx, payload);
      case Rec.RES_END: {
        const { report, offset } = readReport(payload);
        if (payload.byteLength > offset) addTrailers(cx.res, payload.subarray(offset));
        cx.res.end(cx.wholeBody);
        return this.finish(cx, slot, report);
      }
      case Rec.RES_ERROR: {
        const { report, offset } = readReport(payload);
        const error = routerError(asBuffer(payload).toString('latin1', offset));
        if (cx.res.headersSent) closeAfterFlush(cx.res);
        else if (!cx.res.destroyed) answer(cx.res, error);
        return this.finish(cx, slot, report, error.code);
      }
      case Rec.CREDIT: {
        cx.unacked -= decodeCredit(payload);
        if (cx.windowFull && cx.unacked < this.windowBytes) {
          cx.windowFull = false;
          if (!this.blocked) cx.req.resume();
        }
        return;
      }
    }
  };

  private onHead(cx: ClientExchange, slot: number, payload: Uint8Array): void {
    try {
      const flags = payload[0]!;
      const { head, offset } = readResponseHead(payload, 1, flags);
      const headers = endToEndHeaders(head.headers);
      if (head.reason !== undefined) cx.res.writeHead(head.status, head.reason, headers);
      else cx.res.writeHead(head.status, headers);
      const whole = (flags & FLAG_END) !== 0;
      if (offset < payload.byteLength) {
        cx.bytesOut += payload.byteLength - offset;
        const body = Buffer.from(payload.subarray(offset));
        if (whole) cx.wholeBody = body;
        else cx.res.write(body);
      }
      // Node holds a head back until the first body write; a head that came alone (the app sent it
      // and is still producing its body: SSE, long polls) goes to the client now.
      else if (!whole) cx.res.flushHeaders();
    } catch {
      // A head Node refuses (bad header characters): the client gets a clean 502, not a crash.
      if (!cx.res.headersSent) answer(cx.res, routerError('LD_BAD_RESPONSE_HEAD'));
      else cx.res.destroy();
      cx.discard = true;
      this.ring.write(Rec.REQ_ABORT, slot);
    }
  }

  /**
   * An informational (1xx) response before the final head: written to the client as its own
   * status line and fields. Not to an HTTP/1.0 client (RFC 9110 §15.2), nor once the final head
   * is out; one Node refuses (bad field characters) is dropped: 1xx responses are advisory.
   */
  private onInfo(cx: ClientExchange, payload: Uint8Array): void {
    const res = cx.res;
    if (res.headersSent || cx.req.httpVersionMajor !== 1 || cx.req.httpVersionMinor < 1) return;
    let text: string;
    try {
      const { head } = readResponseHead(payload, 1, payload[0]!);
      const reason = head.reason ?? STATUS_TEXT[head.status] ?? 'Informational';
      if (/[\r\n]/.test(reason)) return;
      text = `HTTP/1.1 ${head.status} ${reason}\r\n`;
      const headers = endToEndHeaders(head.headers);
      for (let i = 0; i < headers.length; i += 2) {
        validateHeaderName(headers[i]!);
        validateHeaderValue(headers[i]!, headers[i + 1]!);
        text += `${headers[i]}: ${headers[i + 1]}\r\n`;
      }
      text += '\r\n';
    } catch {
      return;
    }
    writeRaw(res, text);
  }

  private finish(cx: ClientExchange, slot: number, report: RequestReport | null = null, routerError: string | null = null): void {
    cx.done = true;
    if (cx.onData) cx.req.off('data', cx.onData);
    if (cx.onEnd) cx.req.off('end', cx.onEnd);
    // Let Node discard whatever body the client is still sending so keep-alive can continue.
    cx.req.resume();
    this.slots.delete(slot);
    const { req, res } = cx;
    this.ended({
      req,
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      status: res.headersSent ? res.statusCode : 0,
      startedAt: cx.startedAt,
      durationMs: performance.now() - cx.startedAt,
      bytesIn: cx.bytesIn,
      bytesOut: cx.bytesOut,
      report,
      routerError,
      aborted: cx.clientGone,
      trace: cx.trace,
    });
  }

  /** A request answered by the router before it reached the dispatcher; it gets its record too. */
  private refuse(req: IncomingMessage, res: ServerResponse, startedAt: number, code: RouterErrorCode | 'LD_SHUTTING_DOWN', detail?: string, close = false, trace: TraceContext | null = null): void {
    answer(res, routerError(code), detail, close);
    this.ended({
      req,
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      status: res.statusCode,
      startedAt,
      durationMs: performance.now() - startedAt,
      bytesIn: 0,
      bytesOut: 0,
      report: null,
      routerError: code,
      aborted: false,
      trace,
    });
  }

  /** The dispatcher is gone: every request in flight gets 502 and every new one 503, none hangs. */
  failAll(): void {
    this.down = true;
    const lost = routerError('LD_DISPATCHER_LOST');
    for (let slot = 0; slot < this.slots.capacity; slot++) {
      const cx = this.slots.get(slot);
      if (cx === undefined) continue;
      if (cx instanceof Tunnel) {
        cx.cut();
        this.finished(cx, null, lost.code);
        continue;
      }
      if (cx.res.headersSent) cx.res.destroy();
      else if (!cx.res.destroyed) answer(cx.res, lost);
      this.finish(cx, slot, null, lost.code);
    }
  }

  /**
   * SIGTERM: every request from now on is refused (503, Connection: close), and every response
   * still to start says Connection: close, so clients open no new request on these connections.
   */
  beginDrain(): void {
    this.draining = true;
    for (const cx of this.slots.values()) if (!(cx instanceof Tunnel) && !cx.res.headersSent) cx.res.shouldKeepAlive = false;
  }

  /**
   * The drain's grace is over: whatever is still in flight is cut. A response not yet begun gets
   * 503 LD_SHUTTING_DOWN (with Connection: close); one under way can only be reset.
   */
  cutAll(): { answered: number; reset: number } {
    const shuttingDown = routerError('LD_SHUTTING_DOWN');
    let answered = 0;
    let reset = 0;
    for (let slot = 0; slot < this.slots.capacity; slot++) {
      const cx = this.slots.get(slot);
      if (cx === undefined) continue;
      if (cx instanceof Tunnel) {
        const how = cx.cut();
        if (how === 'answered') answered++;
        else if (how === 'reset') reset++;
        this.finished(cx, null, how === 'answered' ? shuttingDown.code : null);
        continue;
      }
      let code: string | null = null;
      if (!cx.discard && !cx.res.destroyed) {
        if (cx.res.headersSent) {
          cx.res.destroy();
          reset++;
        } else {
          answer(cx.res, shuttingDown, undefined, true);
          answered++;
          code = shuttingDown.code;
        }
      }
      this.finish(cx, slot, null, code);
    }
    return { answered, reset };
  }

  /** The request ring is full: stop reading every client until it drains. */
  ringFull(): void {
    this.blocked = true;
    for (const cx of this.slots.values()) {
      if (cx instanceof Tunnel) cx.pause();
      else if (cx.onData) cx.req.pause();
    }
  }

  ringDrained(): void {
    this.blocked = false;
    for (const cx of this.slots.values()) {
      if (cx instanceof Tunnel) cx.resume();
      else if (cx.onData && !cx.windowFull && !cx.done) cx.req.resume();
    }
  }
}
