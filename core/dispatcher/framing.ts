// The router owns HTTP framing toward its clients, whatever a peer sends. A response head decides
// how long the body must be (RFC 9112 §6.3); a body that ends short of it would leave the client
// waiting for bytes that never come, and one that runs past it would be read by the client as the
// start of its next response. Either, or a status that cannot end a response, is a violation: the
// relay stops the response there and closes the peer's channel. Pure rules, no I/O.

import type { HeaderList } from '../frames.ts';

export type FramingViolation =
  /** status outside 100–599 */
  | 'bad-status'
  /** 1xx where the final response belongs (101 only answers an upgrade request) */
  | 'interim-status'
  /** content-length that is not one non-negative integer */
  | 'bad-length'
  /** more body bytes than the head promised (or any on a response that has no body) */
  | 'long-body'
  /** the peer ended the response before the length its head promised */
  | 'short-body';

export const FRAMING_VIOLATIONS: readonly FramingViolation[] = ['bad-status', 'interim-status', 'bad-length', 'long-body', 'short-body'];

/** Body bytes the response must carry: an exact count, or any number (chunked or unknown length). */
export type BodyLength = { kind: 'exact'; bytes: number } | { kind: 'any' };

export type HeadVerdict = { ok: true; body: BodyLength } | { ok: false; violation: FramingViolation };

const NO_BODY: BodyLength = { kind: 'exact', bytes: 0 };
const ANY: BodyLength = { kind: 'any' };

/**
 * `upgrade`: the request asked to switch protocols, so a 101 is its final answer, and what follows
 * is the new protocol's bytes for as long as either side sends them (a tunnel, no HTTP length).
 */
export function checkResponseHead(method: string, status: number, headers: HeaderList, upgrade = false): HeadVerdict {
  if (status < 100 || status > 599) return { ok: false, violation: 'bad-status' };
  if (status === 101 && upgrade) return { ok: true, body: ANY };
  if (status < 200) return { ok: false, violation: 'interim-status' };
  // These never have a body, whatever content-length says (for HEAD and 304 it describes another response).
  if (method === 'HEAD' || status === 204 || status === 304) return { ok: true, body: NO_BODY };
  let length: number | null = null;
  let chunked = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      // A list of identical values is one length (RFC 9110 §8.6); anything else is not a length.
      for (const part of headers[i + 1]!.split(',')) {
        const v = part.trim();
        if (!/^\d{1,15}$/.test(v)) return { ok: false, violation: 'bad-length' };
        const n = Number(v);
        if (length !== null && length !== n) return { ok: false, violation: 'bad-length' };
        length = n;
      }
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      chunked = true;
    }
  }
  // Transfer-encoding wins over content-length; ingress re-frames such a body for its client.
  if (chunked || length === null) return { ok: true, body: ANY };
  return { ok: true, body: { kind: 'exact', bytes: length } };
}

/**
 * An informational response (RES_INFO) before the final head: a 1xx other than 101 (a 101 would
 * switch protocols, which a channel cannot carry). Anything else there is `bad-status`.
 */
export function checkInformational(status: number): FramingViolation | null {
  return status >= 100 && status < 200 && status !== 101 ? null : 'bad-status';
}

/** After `sent` body bytes in all, is the response still within its length? */
export function overrun(body: BodyLength, sent: number): boolean {
  return body.kind === 'exact' && sent > body.bytes;
}

/** At the end of the response, did it carry all it promised? */
export function shortfall(body: BodyLength, sent: number): boolean {
  return body.kind === 'exact' && sent < body.bytes;
}
