// Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message: a proxy must not
// relay them, nor any header that the `connection` header names.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

/** Whether a lower-case name is hop-by-hop; the length test spares the set lookup for most names. */
function hopByHop(name: string): boolean {
  const n = name.length;
  return (n === 2 || n === 7 || n === 10 || (n >= 14 && n <= 19)) && HOP_BY_HOP.has(name);
}

/**
 * Returns the end-to-end headers of a flat [name, value, …] list (Node's rawHeaders form), names
 * lower-cased, order and repeats kept. It runs on every request and response the extension relays,
 * so it makes one pass and looks back only when a `connection` header names more to drop.
 */
export function endToEndHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'connection') {
      for (const token of raw[i + 1]!.split(',')) {
        const t = token.trim().toLowerCase();
        if (t !== '') (named ??= new Set()).add(t);
      }
      continue;
    }
    if (hopByHop(name)) continue;
    out.push(name, raw[i + 1]!);
  }
  if (named === null) return out;
  // A `connection` header may come after the fields it names.
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!named.has(out[i]!)) kept.push(out[i]!, out[i + 1]!);
  return kept;
}
