// Record types carried by the two rings between ingress (main thread) and the dispatcher thread.
// The slot names one client request for its whole life; ingress allocates and frees slots.
//
// Payloads reuse the channel protocol's encodings (frames.ts) so that the dispatcher relays heads
// between ring and WebSocket with one copy and no parsing of headers.

import type { RouterErrorCode } from './errors.ts';
import { asBuffer } from './frames.ts';
import { MessageType as M } from './message-types.ts';

/** The messages the rings carry (numbered in core/message-types.ts, as the frames are). */
export const Rec = {
  /** ingress → dispatcher: [flags u8][request head section][inline body] */
  REQ_HEAD: M.REQ_HEAD,
  /** ingress → dispatcher: body bytes */
  REQ_BODY: M.REQ_BODY,
  /** ingress → dispatcher: body complete */
  REQ_END: M.REQ_END,
  /** ingress → dispatcher: the client went away; the slot is free once RES_END/RES_ERROR returns */
  REQ_ABORT: M.REQ_ABORT,
  /** either way: [u32 bytes] the reader has passed this many body bytes on for this slot */
  CREDIT: M.CREDIT,
  /** dispatcher → ingress: [flags u8][response head section][inline body] */
  RES_HEAD: M.RES_HEAD,
  /** dispatcher → ingress: body bytes */
  RES_BODY: M.RES_BODY,
  /** dispatcher → ingress: [report][trailer header list, when it has trailers]: response complete; the slot is done */
  RES_END: M.RES_END,
  /** dispatcher → ingress: [flags u8][response head section] of an informational (1xx) response */
  RES_INFO: M.RES_INFO,
  /** dispatcher → ingress: [report][error code, latin1] (core/errors.ts); the slot is done */
  RES_ERROR: M.RES_ERROR,
  /** ingress → dispatcher: [u16 function index] before REQ_HEAD, when several functions share the router */
  ROUTE: M.ROUTE,
} as const;

export function encodeRoute(functionIndex: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, functionIndex);
  return b;
}

export function decodeRoute(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint16(0);
}

export function encodeCredit(bytes: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, bytes);
  return b;
}

export function decodeCredit(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
}

/**
 * What only the dispatcher knows of a finished request, at the head of its terminal record, so
 * that ingress can put the whole request in one metric observation and one access-log line.
 * Times are whole microseconds; NEVER where the request did not get that far.
 */
export interface RequestReport {
  /** From the head reaching the dispatcher to its (last) assignment to a channel. */
  queueUs: number;
  /** From that assignment to the response head from the instance. */
  firstByteUs: number;
  /** From that assignment to the end of the response (or its failure). */
  upstreamUs: number;
  /** Times it was sent again after its instance was lost. */
  retries: number;
  /** The instance that served it last (its short id, never the token); '' if none did. */
  instance: string;
}

export const NEVER = 0xffffffff;
const REPORT_FIXED = 14;
const MAX_INSTANCE_ID = 64;

export function reportSize(r: RequestReport): number {
  return REPORT_FIXED + Math.min(r.instance.length, MAX_INSTANCE_ID);
}

/** Writes the report at dst[0…] and returns its length. */
export function writeReport(dst: Uint8Array, r: RequestReport): number {
  const v = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  v.setUint32(0, r.queueUs);
  v.setUint32(4, r.firstByteUs);
  v.setUint32(8, r.upstreamUs);
  v.setUint8(12, Math.min(r.retries, 255));
  const id = r.instance.length > MAX_INSTANCE_ID ? r.instance.slice(0, MAX_INSTANCE_ID) : r.instance;
  v.setUint8(13, id.length);
  asBuffer(dst).write(id, REPORT_FIXED, 'latin1');
  return REPORT_FIXED + id.length;
}

export function readReport(payload: Uint8Array): { report: RequestReport; offset: number } {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const idLength = v.getUint8(13);
  return {
    report: {
      queueUs: v.getUint32(0),
      firstByteUs: v.getUint32(4),
      upstreamUs: v.getUint32(8),
      retries: v.getUint8(12),
      instance: asBuffer(payload).toString('latin1', REPORT_FIXED, REPORT_FIXED + idLength),
    },
    offset: REPORT_FIXED + idLength,
  };
}

/** A duration in ms as the report's whole microseconds (NEVER when it did not happen). */
export function toMicros(ms: number | undefined): number {
  return ms === undefined ? NEVER : Math.max(0, Math.min(NEVER - 1, Math.round(ms * 1000)));
}

/** RES_ERROR names the failure by its catalog code (core/errors.ts); ingress owns status and text. */
export function encodeResponseError(code: RouterErrorCode): Uint8Array {
  return Buffer.from(code, 'latin1');
}

export function decodeResponseError(payload: Uint8Array): { code: string } {
  return { code: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1') };
}
