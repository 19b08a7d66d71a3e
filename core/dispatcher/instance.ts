// An execution environment serving the router: one long invoke and the channels it opened.

import type { WebSocket } from 'ws';
import type { Exchange } from './exchange.ts';

/** starting → open → draining → closing → closed (DESIGN §5). */
export type InstanceState = 'starting' | 'open' | 'draining' | 'closing' | 'closed';

export class Channel {
  exchange: Exchange | null = null;
  /** A pong (or any frame) arrived since the last ping. */
  alive = true;
  /** Reading is paused because the client is slower than the Lambda. */
  paused = false;
  /** GOAWAY sent: no new request goes here. */
  goaway = false;

  constructor(
    readonly ws: WebSocket,
    readonly instance: Instance,
    readonly index: number,
  ) {}
}

/** A Lambda invocation, or a container worker that stays (permanent capacity, never invoked). */
export type InstanceKind = 'lambda' | 'worker';

export class Instance {
  state: InstanceState = 'starting';
  readonly channels = new Set<Channel>();
  /** Channels with no request, ready for the next one. */
  readonly idle: Channel[] = [];
  outstanding = 0;
  invokeEnded = false;
  openedAt = 0;
  lastBusyAt: number;
  requests = 0;
  /** Why it left service, for the status page and logs. */
  closeReason = '';
  /** It asked to leave (deadline) and keeps serving until its replacement opens. */
  leavingSince = 0;
  /** The instance this one was started to replace; drained once this one opens. */
  replaces: Instance | null = null;

  constructor(
    readonly id: string,
    readonly token: Buffer,
    readonly maxConcurrent: number,
    readonly startedAt: number,
    readonly kind: InstanceKind = 'lambda',
  ) {
    this.lastBusyAt = startedAt;
  }

  /** Can take one more request now. */
  get available(): boolean {
    return this.state === 'open' && this.outstanding < this.maxConcurrent && this.idle.length > 0;
  }

  takeIdle(): Channel | undefined {
    while (this.idle.length > 0) {
      const ch = this.idle.pop()!;
      if (this.channels.has(ch) && !ch.goaway && ch.exchange === null) return ch;
    }
    return undefined;
  }
}
