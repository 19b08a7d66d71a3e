// Record types carried by the two rings between ingress (main thread) and the dispatcher worker.
// The slot names one client request for its whole life; ingress allocates and frees slots.
//
// Payloads reuse the channel protocol's encodings (frames.ts) so that the dispatcher relays heads
// between ring and WebSocket with one copy and no parsing of headers.

export const Rec = {
  /** ingress → dispatcher: [flags u8][request head section][inline body] */
  REQUEST_HEAD: 1,
  /** ingress → dispatcher: body bytes */
  REQUEST_BODY: 2,
  /** ingress → dispatcher: body complete */
  REQUEST_END: 3,
  /** ingress → dispatcher: the client went away; the slot is free once RESPONSE_END/ERROR returns */
  REQUEST_ABORT: 4,
  /** either way: [u32 bytes] the reader has passed this many body bytes on for this slot */
  CREDIT: 5,
  /** dispatcher → ingress: [flags u8][response head section][inline body] */
  RESPONSE_HEAD: 6,
  /** dispatcher → ingress: body bytes */
  RESPONSE_BODY: 7,
  /** dispatcher → ingress: response complete; the slot is done */
  RESPONSE_END: 8,
  /** dispatcher → ingress: [u16 status][utf8 message]; the slot is done */
  RESPONSE_ERROR: 9,
} as const;
export type RecType = (typeof Rec)[keyof typeof Rec];

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
