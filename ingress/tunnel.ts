// A client connection that asked to switch protocols (`Upgrade: websocket`, or any protocol its
// app agrees to), from the upgrade request to the end of the new protocol. The request goes to the
// dispatcher like any other, flagged FLAG_UPGRADE; the app's answer comes back as a response head.
// A 101 makes the slot a tunnel: the connection's raw bytes cross the rings both ways as REQ_BODY
// and RES_BODY, under the same per-slot windows that bound request and response bodies, until
// either side ends (docs/ARCHITECTURE.md, "WebSockets"). Any other answer is written as an ordinary
// response, and the connection closes after it: Node has handed us the socket, not a response.
// Node gives an upgrade request a bare socket rather than a ServerResponse, so this module writes
// the status line and fields itself.

import { STATUS_CODES, validateHeaderName, validateHeaderValue, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODE_HEADER, routerError } from '../core/errors.ts';
import { endToEndHeaders } from '../core/http-headers.ts';
import { readResponseHead } from '../core/frames.ts';
import { Rec, decodeCredit, encodeCredit, readReport, type RequestReport } from '../core/records.ts';
import type { RingWriter } from '../core/ring-writer.ts';
import type { TraceContext } from '../core/trace-context.ts';
import type { RequestRecord } from './telemetry/request-record.ts';

/** What a tunnel needs of the proxy that owns its slot. */
export interface TunnelHost {
  readonly ring: RingWriter;
  readonly windowBytes: number;
  /** The ring is full: no client may be read until it drains. */
  readonly ringBlocked: boolean;
  /** The terminal record came (or the router gave up): free the slot and record the request. */
  finished(tunnel: Tunnel, report: RequestReport | null, routerError: string | null): void;
}

/** How long a client may take to close its side once the app's has ended. */
const LINGER_AFTER_END_MS = 5_000;

export class Tunnel {
  /** Client bytes written to the ring and not yet credited. */
  private unacked = 0;
  private windowFull = false;
  /** The app answered 101: bytes flow raw both ways. */
  private switched = false;
  /** The response head went to the client (101 or not). */
  private headSent = false;
  done = false;
  /** Nothing more goes to the client (it left); await the terminal record. */
  private discard = false;
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  clientGone = false;
  readonly startedAt = performance.now();
  /** Its ring slot, once it has one (a refused upgrade never does). */
  slot = -1;

  constructor(
    readonly req: IncomingMessage,
    readonly socket: Duplex,
    private readonly host: TunnelHost,
    readonly trace: TraceContext,
  ) {}

  /** What the metrics and the access log are told when it ends. */
  record(report: RequestReport | null, routerError: string | null): RequestRecord {
    return {
      req: this.req,
      method: this.req.method ?? 'GET',
      target: this.req.url ?? '/',
      status: this.status,
      startedAt: this.startedAt,
      durationMs: performance.now() - this.startedAt,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      report,
      routerError,
      aborted: this.clientGone,
      trace: this.trace,
    };
  }

  /** After the head record: the bytes that came with the upgrade request, then the socket's. */
  start(head: Buffer): void {
    const { socket } = this;
    socket.on('error', () => {}); // 'close' follows; the client's fault is counted there
    if (head.length > 0) this.fromClient(head);
    socket.on('data', (chunk: Buffer) => this.fromClient(chunk));
    socket.on('end', () => {
      if (!this.done) this.host.ring.write(Rec.REQ_END, this.slot);
    });
    socket.on('close', () => {
      if (this.done) return;
      this.clientGone = true;
      this.discard = true;
      this.host.ring.write(Rec.REQ_ABORT, this.slot);
    });
    if (this.host.ringBlocked) socket.pause();
  }

  private fromClient(chunk: Buffer): void {
    if (this.done || this.discard) return;
    this.host.ring.write(Rec.REQ_BODY, this.slot, chunk);
    this.unacked += chunk.length;
    this.bytesIn += chunk.length;
    if (this.unacked >= this.host.windowBytes) {
      this.windowFull = true;
      this.socket.pause();
    }
  }

  /** A record of this slot from the response ring (the payload is valid during the call only). */
  onRecord(type: number, payload: Uint8Array): void {
    if (this.done) return;
    if (this.discard) {
      if (type === Rec.RES_END || type === Rec.RES_ERROR) this.host.finished(this, readReport(payload).report, null);
      return;
    }
    switch (type) {
      case Rec.RES_HEAD:
        return this.onHead(payload);
      case Rec.RES_BODY: {
        const chunk = Buffer.from(payload);
        const n = chunk.length;
        this.bytesOut += n;
        this.socket.write(chunk, () => {
          if (!this.done) this.host.ring.write(Rec.CREDIT, this.slot, encodeCredit(n));
        });
        return;
      }
      case Rec.RES_END: {
        // The app's side is over: what it sent reaches the client, then our side of the connection
        // ends. What the client still sends has nowhere to go, but is read and dropped: a socket
        // left paused on a full window would hold back the client's own close behind its unsent
        // bytes, for as long as the client cares to wait (a WebSocket client: 30 s). One that has
        // not closed its side a while later is cut.
        this.socket.end();
        this.socket.resume();
        const cut = setTimeout(() => this.socket.destroy(), LINGER_AFTER_END_MS);
        cut.unref();
        this.socket.once('close', () => clearTimeout(cut));
        return this.host.finished(this, readReport(payload).report, null);
      }
      case Rec.RES_ERROR: {
        const { report, offset } = readReport(payload);
        const error = routerError(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1', offset));
        if (this.headSent) this.socket.destroy();
        else this.answer(error.status, error.message, { [ERROR_CODE_HEADER]: error.code });
        return this.host.finished(this, report, error.code);
      }
      case Rec.CREDIT:
        this.unacked -= decodeCredit(payload);
        if (this.windowFull && this.unacked < this.host.windowBytes) {
          this.windowFull = false;
          if (!this.host.ringBlocked) this.socket.resume();
        }
        return;
    }
  }

  private onHead(payload: Uint8Array): void {
    let text: string;
    let inline: Uint8Array | null = null;
    try {
      const { head, offset } = readResponseHead(payload, 1, payload[0]!);
      this.status = head.status;
      this.switched = head.status === 101;
      // A 101 keeps Upgrade and Connection (they are what it says); any other answer closes the connection.
      const fields = this.switched ? head.headers : withoutFraming(endToEndHeaders(head.headers));
      text = `HTTP/1.1 ${head.status} ${head.reason ?? STATUS_CODES[head.status] ?? 'Unknown'}\r\n`;
      for (let i = 0; i < fields.length; i += 2) {
        validateHeaderName(fields[i]!);
        validateHeaderValue(fields[i]!, fields[i + 1]!);
        text += `${fields[i]}: ${fields[i + 1]}\r\n`;
      }
      if (!this.switched) text += 'connection: close\r\n';
      text += '\r\n';
      if (offset < payload.byteLength) inline = Buffer.from(payload.subarray(offset));
    } catch {
      // A head that cannot be written: the client gets a clean 502 and the app's side is let go.
      const error = routerError('LD_BAD_RESPONSE_HEAD');
      this.answer(error.status, error.message, { [ERROR_CODE_HEADER]: error.code });
      this.discard = true;
      this.host.ring.write(Rec.REQ_ABORT, this.slot);
      return;
    }
    this.headSent = true;
    this.socket.write(text, 'latin1');
    if (inline !== null) {
      this.bytesOut += inline.length;
      this.socket.write(inline);
    }
  }

  /** The router's own answer on the bare socket; the connection closes after it. */
  private answer(status: number, message: string, fields: Record<string, string>): void {
    if (this.headSent || this.socket.destroyed) return;
    this.headSent = true;
    this.status = status;
    const body = `${message}\n`;
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n`;
    for (const [k, v] of Object.entries(fields)) text += `${k}: ${v}\r\n`;
    if (status === 503) text += 'retry-after: 1\r\n';
    this.socket.end(`${text}\r\n${body}`, 'utf8');
  }

  /** Answered by the router before the dispatcher saw it (drain, dispatcher down, head too large). */
  refuse(code: Parameters<typeof routerError>[0], detail?: string): void {
    const error = routerError(code);
    this.answer(error.status, detail ?? error.message, { [ERROR_CODE_HEADER]: error.code });
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.windowFull && !this.done) this.socket.resume();
  }

  /** The dispatcher is gone, or the drain's grace is over: the connection is cut. */
  cut(): 'answered' | 'reset' | null {
    if (this.discard || this.socket.destroyed) return null;
    if (!this.headSent) {
      this.refuse('LD_SHUTTING_DOWN');
      return 'answered';
    }
    this.socket.destroy();
    return 'reset';
  }
}

/**
 * The app's body reaches a client of a non-101 answer as it was decoded by the extension, on a
 * connection that closes after it: a transfer-encoding would promise chunks that are not there.
 */
function withoutFraming(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'transfer-encoding') continue;
    out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}
