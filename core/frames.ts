// The channel protocol between router and extension (docs/PROTOCOL.md, "Frames"): one binary WebSocket message per
// frame, `[type u8][flags u8][request id u32 BE][body]`. Channel-level frames (CLOSE_REQUEST,
// GOAWAY) carry id 0.
//
// Heads are length-prefixed latin1 fields: HTTP field bytes map 1:1 to latin1 code units, which is
// how Node's parser hands them to us, so a head round-trips byte for byte. Headers are a flat
// [name, value, name, value, …] list, as Node's rawHeaders, so repeated names stay repeated.
// Long because every message's layout, its encoder and its decoder sit together: split, a frame's
// layout would be written down in two places that could drift apart.

import { MessageType as M } from './message-types.ts';

/** The messages a channel carries (numbered in core/message-types.ts). */
export const FrameType = {
  REQ_HEAD: M.REQ_HEAD,
  REQ_BODY: M.REQ_BODY,
  REQ_END: M.REQ_END,
  REQ_ABORT: M.REQ_ABORT,
  RES_HEAD: M.RES_HEAD,
  RES_BODY: M.RES_BODY,
  RES_END: M.RES_END,
  RES_ERROR: M.RES_ERROR,
  CLOSE_REQUEST: M.CLOSE_REQUEST,
  GOAWAY: M.GOAWAY,
  RES_INFO: M.RES_INFO,
  LOAD: M.LOAD,
  CHANNELS: M.CHANNELS,
  CREDIT: M.CREDIT,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** Flag on a head: nothing follows it (no body frames, no END frame). */
export const FLAG_END = 0x01;
/**
 * Flag on RES_HEAD and RES_INFO: the response head section carries a reason phrase after the
 * status (`[status u16][reason length u16][reason][header list]`). Only sent to a router that
 * announced the `reason` feature; absent, the reason is the standard one for the status.
 */
export const FLAG_REASON = 0x02;
/**
 * Flag on REQ_HEAD: the client asks to switch protocols (an `Upgrade` request, a WebSocket most
 * often). A 101 answer makes the exchange a tunnel: REQ_BODY and RES_BODY then carry the raw bytes
 * of the new protocol both ways, REQ_END / RES_END are each side's end, and the channel is held
 * until both are over. Sent only to an extension that named the `upgrade` feature.
 */
export const FLAG_UPGRADE = 0x04;
export const FRAME_HEADER_BYTES = 6;
const EMPTY = new Uint8Array(0);

export type HeaderList = string[];

export interface RequestHead {
  method: string;
  target: string;
  headers: HeaderList;
}

export interface ResponseHead {
  status: number;
  /** The reason phrase as the app sent it, when it is carried (FLAG_REASON); else the standard one applies. */
  reason?: string;
  headers: HeaderList;
}

export type Frame =
  /** `upgrade`: FLAG_UPGRADE, the client asks to switch protocols (absent: false). */
  | { type: 'req-head'; id: number; head: RequestHead; end: boolean; body: Uint8Array | null; upgrade?: boolean }
  | { type: 'req-body'; id: number; body: Uint8Array }
  | { type: 'req-end'; id: number }
  | { type: 'req-abort'; id: number }
  | { type: 'res-head'; id: number; head: ResponseHead; end: boolean; body: Uint8Array | null }
  | { type: 'res-body'; id: number; body: Uint8Array }
  /** `trailers`: the trailer fields of a chunked body (an empty list is the same as none). */
  | { type: 'res-end'; id: number; trailers?: HeaderList }
  /** An informational response (1xx other than 101) before the final head; the head section only, no body. */
  | { type: 'res-info'; id: number; head: ResponseHead }
  | { type: 'res-error'; id: number; message: string }
  | { type: 'close-request'; reason: string }
  | { type: 'goaway' }
  | { type: 'load'; load: LoadReport }
  /** Hold channels 0 … count − 1: open those missing, close the others once idle. */
  | { type: 'channels'; count: number }
  /**
   * On a multiplexed channel (the `mux` feature), either way: the receiver took `bytes` more body
   * bytes of this request, so the sender may send as many more (docs/PROTOCOL.md, "Multiplexed channels").
   */
  | { type: 'credit'; id: number; bytes: number };

/**
 * An environment's load over the interval it covers (LOAD's body: `[elu u16][cpu u16][requests
 * u32][intervalMs u32]`, the two shares in thousandths). `elu`: the share of the interval the
 * event loop ran callbacks (saturation: near 1 whatever CPU the environment is given); `cpu`: CPU
 * time over wall time (may exceed 1 with threads, and is capped by the environment's CPU share).
 */
export interface LoadReport {
  elu: number;
  cpu: number;
  requests: number;
  intervalMs: number;
}

const LOAD_BODY_BYTES = 12;

export class FrameError extends Error {
  override name = 'FrameError';
  constructor(
    readonly code: 'ERR_FRAME_TRUNCATED' | 'ERR_FRAME_UNKNOWN_TYPE' | 'ERR_FRAME_FIELD_TOO_LONG' | 'ERR_FRAME_INVALID',
    message: string,
  ) {
    super(message);
  }
}

const MAX_U8 = 0xff;
const MAX_U16 = 0xffff;

function headersSize(headers: HeaderList): number {
  if (headers.length % 2 !== 0) throw new FrameError('ERR_FRAME_INVALID', 'header list must hold name/value pairs');
  let n = 2;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length > MAX_U16) throw new FrameError('ERR_FRAME_FIELD_TOO_LONG', `header name of ${name.length} bytes`);
    n += 2 + name.length + 4 + headers[i + 1]!.length;
  }
  return n;
}

function writeHeaders(buf: Buffer, off: number, headers: HeaderList): number {
  const count = headers.length / 2;
  if (count > MAX_U16) throw new FrameError('ERR_FRAME_FIELD_TOO_LONG', `${count} headers`);
  buf.writeUInt16BE(count, off);
  off += 2;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    buf.writeUInt16BE(name.length, off);
    off = 2 + off;
    off += buf.write(name, off, 'latin1');
    buf.writeUInt32BE(value.length, off);
    off += 4;
    off += buf.write(value, off, 'latin1');
  }
  return off;
}

/** Bounds-checked reads: every malformed input ends in a FrameError, never a RangeError. */
class Reader {
  constructor(
    readonly buf: Buffer,
    public off: number,
  ) {}
  need(n: number, what: string): void {
    if (this.off + n > this.buf.length) {
      throw new FrameError('ERR_FRAME_TRUNCATED', `truncated frame: ${what} needs ${n} bytes at offset ${this.off}, ${this.buf.length - this.off} left`);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.off++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  latin1(n: number, what: string): string {
    this.need(n, what);
    const s = this.buf.toString('latin1', this.off, this.off + n);
    this.off += n;
    return s;
  }
  headers(): HeaderList {
    const count = this.u16('header count');
    // Each header takes at least 6 bytes: refuse a count the data cannot hold before allocating.
    this.need(count * 6, `${count} headers`);
    const out: HeaderList = new Array(count * 2);
    for (let i = 0; i < count; i++) {
      out[2 * i] = this.latin1(this.u16('header name length'), 'header name');
      out[2 * i + 1] = this.latin1(this.u32('header value length'), 'header value');
    }
    return out;
  }
  rest(): Uint8Array | null {
    return this.off < this.buf.length ? this.buf.subarray(this.off) : null;
  }
}

/** Bytes of a header list on its own (RES_END's trailers). */
export function headerListSize(headers: HeaderList): number {
  return headersSize(headers);
}

export function writeHeaderList(buf: Buffer, off: number, headers: HeaderList): number {
  return writeHeaders(buf, off, headers);
}

/** A header list that must fill `buf` from `off` to its end (RES_END's trailers). */
export function readHeaderList(buf: Uint8Array, off = 0): HeaderList {
  const r = new Reader(asBuffer(buf), off);
  const headers = r.headers();
  if (r.off !== r.buf.length) throw new FrameError('ERR_FRAME_INVALID', `${r.buf.length - r.off} bytes after a trailer list`);
  return headers;
}

/** The flags a response head needs for its fields (FLAG_REASON when it carries a reason). */
export function responseHeadFlags(h: ResponseHead): number {
  return h.reason !== undefined ? FLAG_REASON : 0;
}

export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function requestHeadSize(h: RequestHead): number {
  if (h.method.length === 0) throw new FrameError('ERR_FRAME_INVALID', 'empty method');
  if (h.method.length > MAX_U8) throw new FrameError('ERR_FRAME_FIELD_TOO_LONG', `method of ${h.method.length} bytes`);
  if (h.target.length > MAX_U16) throw new FrameError('ERR_FRAME_FIELD_TOO_LONG', `target of ${h.target.length} bytes`);
  return 1 + h.method.length + 2 + h.target.length + headersSize(h.headers);
}

export function writeRequestHead(buf: Buffer, off: number, h: RequestHead): number {
  buf[off++] = h.method.length;
  off += buf.write(h.method, off, 'latin1');
  buf.writeUInt16BE(h.target.length, off);
  off += 2;
  off += buf.write(h.target, off, 'latin1');
  return writeHeaders(buf, off, h.headers);
}

export function readRequestHead(buf: Uint8Array, off = 0): { head: RequestHead; offset: number } {
  const r = new Reader(asBuffer(buf), off);
  const method = r.latin1(r.u8('method length'), 'method');
  if (method.length === 0) throw new FrameError('ERR_FRAME_INVALID', 'empty method');
  const target = r.latin1(r.u16('target length'), 'target');
  const headers = r.headers();
  return { head: { method, target, headers }, offset: r.off };
}

export function responseHeadSize(h: ResponseHead): number {
  if (!Number.isInteger(h.status) || h.status < 100 || h.status > 999) throw new FrameError('ERR_FRAME_INVALID', `status ${h.status} out of range`);
  let n = 2 + headersSize(h.headers);
  if (h.reason !== undefined) {
    if (h.reason.length > MAX_U16) throw new FrameError('ERR_FRAME_FIELD_TOO_LONG', `reason phrase of ${h.reason.length} bytes`);
    n += 2 + h.reason.length;
  }
  return n;
}

/** Writes the head section; a head with a reason must go with FLAG_REASON (responseHeadFlags). */
export function writeResponseHead(buf: Buffer, off: number, h: ResponseHead): number {
  buf.writeUInt16BE(h.status, off);
  off += 2;
  if (h.reason !== undefined) {
    buf.writeUInt16BE(h.reason.length, off);
    off += 2;
    off += buf.write(h.reason, off, 'latin1');
  }
  return writeHeaders(buf, off, h.headers);
}

/** Reads a response head section; `flags` (of its frame or record) says whether it has a reason. */
export function readResponseHead(buf: Uint8Array, off = 0, flags = 0): { head: ResponseHead; offset: number } {
  const r = new Reader(asBuffer(buf), off);
  const status = r.u16('status');
  if (status < 100 || status > 999) throw new FrameError('ERR_FRAME_INVALID', `status ${status} out of range`);
  const reason = (flags & FLAG_REASON) !== 0 ? r.latin1(r.u16('reason length'), 'reason') : undefined;
  const headers = r.headers();
  return { head: reason !== undefined ? { status, reason, headers } : { status, headers }, offset: r.off };
}

function header(buf: Buffer, type: FrameTypeCode, flags: number, id: number): void {
  buf[0] = type;
  buf[1] = flags;
  buf.writeUInt32BE(id >>> 0, 2);
}

/**
 * Lays out one frame: the header, then the body. Every frame that leaves this process is built
 * here, whether from decoded fields (encodeFrame) or relayed from a ring record (the dispatcher).
 */
export function frame(type: FrameTypeCode, flags: number, id: number, body: Uint8Array = EMPTY): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.byteLength);
  header(buf, type, flags, id);
  if (body.byteLength > 0) buf.set(body, FRAME_HEADER_BYTES);
  return buf;
}

function withText(type: FrameTypeCode, id: number, text: string): Buffer {
  return frame(type, 0, id, Buffer.from(text, 'utf8'));
}

export function encodeFrame(f: Frame): Buffer {
  switch (f.type) {
    case 'req-head': {
      const body = f.body ?? EMPTY;
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + requestHeadSize(f.head) + body.byteLength);
      header(buf, FrameType.REQ_HEAD, (f.end ? FLAG_END : 0) | (f.upgrade === true ? FLAG_UPGRADE : 0), f.id);
      buf.set(body, writeRequestHead(buf, FRAME_HEADER_BYTES, f.head));
      return buf;
    }
    case 'res-head': {
      const body = f.body ?? EMPTY;
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + responseHeadSize(f.head) + body.byteLength);
      header(buf, FrameType.RES_HEAD, (f.end ? FLAG_END : 0) | responseHeadFlags(f.head), f.id);
      buf.set(body, writeResponseHead(buf, FRAME_HEADER_BYTES, f.head));
      return buf;
    }
    case 'res-info': {
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + responseHeadSize(f.head));
      header(buf, FrameType.RES_INFO, responseHeadFlags(f.head), f.id);
      writeResponseHead(buf, FRAME_HEADER_BYTES, f.head);
      return buf;
    }
    case 'req-body':
      return frame(FrameType.REQ_BODY, 0, f.id, f.body);
    case 'res-body':
      return frame(FrameType.RES_BODY, 0, f.id, f.body);
    case 'req-end':
      return frame(FrameType.REQ_END, 0, f.id);
    case 'req-abort':
      return frame(FrameType.REQ_ABORT, 0, f.id);
    case 'res-end': {
      if (f.trailers === undefined || f.trailers.length === 0) return frame(FrameType.RES_END, 0, f.id);
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + headersSize(f.trailers));
      header(buf, FrameType.RES_END, 0, f.id);
      writeHeaders(buf, FRAME_HEADER_BYTES, f.trailers);
      return buf;
    }
    case 'res-error':
      return withText(FrameType.RES_ERROR, f.id, f.message);
    case 'close-request':
      return withText(FrameType.CLOSE_REQUEST, 0, f.reason);
    case 'goaway':
      return frame(FrameType.GOAWAY, 0, 0);
    case 'load': {
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + LOAD_BODY_BYTES);
      header(buf, FrameType.LOAD, 0, 0);
      const share = (v: number) => Math.max(0, Math.min(MAX_U16, Math.round(v * 1000)));
      buf.writeUInt16BE(share(f.load.elu), FRAME_HEADER_BYTES);
      buf.writeUInt16BE(share(f.load.cpu), FRAME_HEADER_BYTES + 2);
      buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.round(f.load.requests))), FRAME_HEADER_BYTES + 4);
      buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.round(f.load.intervalMs))), FRAME_HEADER_BYTES + 8);
      return buf;
    }
    case 'channels': {
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 2);
      header(buf, FrameType.CHANNELS, 0, 0);
      buf.writeUInt16BE(Math.max(1, Math.min(MAX_U16, Math.round(f.count))), FRAME_HEADER_BYTES);
      return buf;
    }
    case 'credit':
      return creditFrame(f.id, f.bytes);
  }
}

/** CREDIT: `[bytes u32]`, at least 1. */
export function creditFrame(id: number, bytes: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  header(buf, FrameType.CREDIT, 0, id);
  buf.writeUInt32BE(Math.max(1, Math.min(0xffffffff, Math.round(bytes))), FRAME_HEADER_BYTES);
  return buf;
}

/** CREDIT's bytes (the frame minus its header). */
export function readCredit(payload: Uint8Array): number {
  if (payload.byteLength !== 4) throw new FrameError('ERR_FRAME_INVALID', `CREDIT body of ${payload.byteLength} bytes, not 4`);
  const bytes = asBuffer(payload).readUInt32BE(0);
  if (bytes === 0) throw new FrameError('ERR_FRAME_INVALID', 'CREDIT of 0 bytes');
  return bytes;
}

/** LOAD's body (the frame minus its header). */
export function readLoad(payload: Uint8Array): LoadReport {
  if (payload.byteLength !== LOAD_BODY_BYTES) throw new FrameError('ERR_FRAME_INVALID', `LOAD body of ${payload.byteLength} bytes, not ${LOAD_BODY_BYTES}`);
  const b = asBuffer(payload);
  return { elu: b.readUInt16BE(0) / 1000, cpu: b.readUInt16BE(2) / 1000, requests: b.readUInt32BE(4), intervalMs: b.readUInt32BE(8) };
}


/** The type byte and request id of a frame without decoding the rest (the relay's fast path). */
export function peekFrame(data: Uint8Array): { type: number; flags: number; id: number } {
  if (data.byteLength < FRAME_HEADER_BYTES) {
    throw new FrameError('ERR_FRAME_TRUNCATED', `frame of ${data.byteLength} bytes is shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  }
  const type = data[0]!;
  if (type < FrameType.REQ_HEAD || type > FrameType.CHANNELS) throw new FrameError('ERR_FRAME_UNKNOWN_TYPE', `unknown frame type ${type}`);
  return { type, flags: data[1]!, id: ((data[2]! << 24) | (data[3]! << 16) | (data[4]! << 8) | data[5]!) >>> 0 };
}

export function decodeFrame(data: Uint8Array): Frame {
  const { type, flags, id } = peekFrame(data);
  const buf = asBuffer(data);
  const payload = buf.subarray(FRAME_HEADER_BYTES);
  switch (type) {
    case FrameType.REQ_HEAD: {
      const { head, offset } = readRequestHead(buf, FRAME_HEADER_BYTES);
      const body = offset < buf.length ? buf.subarray(offset) : null;
      const upgrade = (flags & FLAG_UPGRADE) !== 0;
      return { type: 'req-head', id, head, end: (flags & FLAG_END) !== 0, body, ...(upgrade ? { upgrade } : {}) };
    }
    case FrameType.RES_HEAD: {
      const { head, offset } = readResponseHead(buf, FRAME_HEADER_BYTES, flags);
      const body = offset < buf.length ? buf.subarray(offset) : null;
      return { type: 'res-head', id, head, end: (flags & FLAG_END) !== 0, body };
    }
    case FrameType.RES_INFO: {
      const { head, offset } = readResponseHead(buf, FRAME_HEADER_BYTES, flags);
      if (offset !== buf.length) throw new FrameError('ERR_FRAME_INVALID', `${buf.length - offset} bytes after an informational head`);
      return { type: 'res-info', id, head };
    }
    case FrameType.REQ_BODY:
      return { type: 'req-body', id, body: payload };
    case FrameType.RES_BODY:
      return { type: 'res-body', id, body: payload };
    case FrameType.REQ_END:
      return { type: 'req-end', id };
    case FrameType.REQ_ABORT:
      return { type: 'req-abort', id };
    case FrameType.RES_END:
    {
      if (payload.length === 0) return { type: 'res-end', id };
      const trailers = readHeaderList(payload);
      // An empty list is no trailers: the same frame as one without a body.
      return trailers.length === 0 ? { type: 'res-end', id } : { type: 'res-end', id, trailers };
    }
    case FrameType.RES_ERROR:
      return { type: 'res-error', id, message: payload.toString('utf8') };
    case FrameType.CLOSE_REQUEST:
      return { type: 'close-request', reason: payload.toString('utf8') };
    case FrameType.GOAWAY:
      return { type: 'goaway' };
    case FrameType.LOAD:
      return { type: 'load', load: readLoad(payload) };
    case FrameType.CHANNELS: {
      if (payload.length !== 2) throw new FrameError('ERR_FRAME_INVALID', `CHANNELS body of ${payload.length} bytes, not 2`);
      const count = payload.readUInt16BE(0);
      if (count === 0) throw new FrameError('ERR_FRAME_INVALID', 'CHANNELS of 0: an instance holds at least one channel');
      return { type: 'channels', count };
    }
    case FrameType.CREDIT:
      return { type: 'credit', id, bytes: readCredit(payload) };
    default:
      throw new FrameError('ERR_FRAME_UNKNOWN_TYPE', `unknown frame type ${type}`);
  }
}
