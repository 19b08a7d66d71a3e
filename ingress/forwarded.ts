// The x-forwarded-* headers the app sees. A load balancer in front of the router adds them, and
// its word is taken; anyone else could write them to pose as another client (an allow-list keyed
// on x-forwarded-for, a redirect built from x-forwarded-host), so from an untrusted peer they are
// dropped and replaced by what the router itself sees, as Express and Fastify do with trust proxy.

import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4 } from 'node:net';
import { endToEndHeaders } from '../core/http-headers.ts';

/** Headers only a trusted hop may set. */
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded']);

export class ForwardedHeaders {
  private readonly trusted = new BlockList();
  private readonly trustsAnyone: boolean;

  /** `trustProxy`: CIDRs as core/config.ts normalizes them (`10.0.0.0/16`). */
  constructor(trustProxy: readonly string[]) {
    for (const cidr of trustProxy) {
      const [address, prefix] = cidr.split('/') as [string, string];
      this.trusted.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
    }
    this.trustsAnyone = trustProxy.length > 0;
  }

  isTrusted(peer: string): boolean {
    if (!this.trustsAnyone || peer === '') return false;
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const v4 = peer.startsWith('::ffff:') && isIPv4(peer.slice(7)) ? peer.slice(7) : null;
    return v4 !== null ? this.trusted.check(v4, 'ipv4') : this.trusted.check(peer, isIPv4(peer) ? 'ipv4' : 'ipv6');
  }

  /**
   * The client's address for logs: the peer, or when the peer is a trusted proxy, the nearest
   * address in its X-Forwarded-For that is not itself a trusted proxy (each proxy appends the
   * peer it saw, so the list is read from the right).
   */
  clientOf(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? '';
    if (!this.isTrusted(peer)) return peer;
    const xff = req.headers['x-forwarded-for'];
    if (typeof xff !== 'string') return peer;
    const hops = xff.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim();
      if (hop !== '' && (i === 0 || !this.isTrusted(hop))) return hop;
    }
    return peer;
  }

  /** End-to-end headers of `req` plus the x-forwarded-* set, as a load balancer adds them. */
  headersOf(req: IncomingMessage): string[] {
    const peer = req.socket.remoteAddress ?? '';
    let headers = endToEndHeaders(req.rawHeaders);
    const trusted = this.isTrusted(peer);
    if (!trusted) headers = headers.filter((_, i, all) => !FORWARDING.has(all[i - (i % 2)]!));
    let xff = -1;
    let hasProto = false;
    let hasHost = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name === 'x-forwarded-for') xff = i;
      else if (name === 'x-forwarded-proto') hasProto = true;
      else if (name === 'x-forwarded-host') hasHost = true;
    }
    if (xff >= 0) headers[xff + 1] = `${headers[xff + 1]}, ${peer}`;
    else headers.push('x-forwarded-for', peer);
    if (!hasProto) headers.push('x-forwarded-proto', 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
    if (!hasHost && req.headers.host !== undefined) headers.push('x-forwarded-host', req.headers.host);
    return headers;
  }
}
