// The request headers as the app gets them, shared by the channel and direct mode: the router's
// and the Lambda event's headers describe the client's request, not the hop into the app.

import { endToEndHeaders } from '../core/http-headers.ts';

/**
 * Hop-by-hop headers removed, a Host if the client sent none, and explicit framing so that a body
 * is never sent unframed (Node frames GET/DELETE/OPTIONS bodies only when told).
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
