// Record types carried by the two rings between ingress (main thread) and the dispatcher thread.
// The slot names one client request for its whole life; ingress allocates and frees slots.
//
// Payloads reuse the channel protocol's encodings (frames.ts) so that the dispatcher relays heads
// between ring and WebSocket with one copy and no parsing of headers.

import type { RouterErrorCode } from './errors.ts';
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
  /** dispatcher → ingress: response complete, [trailer header list] when it has trailers; the slot is done */
  RES_END: M.RES_END,
  /** dispatcher → ingress: [flags u8][response head section] of an informational (1xx) response */
  RES_INFO: M.RES_INFO,
  /** dispatcher → ingress: [error code, latin1] (core/errors.ts); the slot is done */
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

/** RES_ERROR names the failure by its catalog code (core/errors.ts); ingress owns status and text. */
export function encodeResponseError(code: RouterErrorCode): Uint8Array {
  return Buffer.from(code, 'latin1');
}

export function decodeResponseError(payload: Uint8Array): { code: string } {
  return { code: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1') };
}
