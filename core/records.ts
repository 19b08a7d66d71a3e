// Record types carried by the two rings between ingress (main thread) and the dispatcher worker.
// The slot names one client request for its whole life; ingress allocates and frees slots.
//
// Payloads reuse the channel protocol's encodings (frames.ts) so that the dispatcher relays heads
// between ring and WebSocket with one copy and no parsing of headers.

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
  /** dispatcher → ingress: response complete; the slot is done */
  RES_END: M.RES_END,
  /** dispatcher → ingress: [u16 status][utf8 message]; the slot is done */
  RES_ERROR: M.RES_ERROR,
} as const;

export function encodeCredit(bytes: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, bytes);
  return b;
}

export function decodeCredit(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
}

export function encodeResponseError(status: number, message: string): Uint8Array {
  const msg = Buffer.from(message, 'utf8');
  const b = Buffer.allocUnsafe(2 + msg.length);
  b.writeUInt16BE(status, 0);
  msg.copy(b, 2);
  return b;
}

export function decodeResponseError(payload: Uint8Array): { status: number; message: string } {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return { status: b.readUInt16BE(0), message: b.toString('utf8', 2) };
}
