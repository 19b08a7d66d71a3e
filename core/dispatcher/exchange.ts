// One client request as the dispatcher sees it, from REQ_HEAD to its terminal record.

import type { Channel } from './instance.ts';

export type ExchangeState =
  /** in the pending queue */
  | 'pending'
  /** head sent to a channel, no response yet */
  | 'sent'
  /** response head relayed to ingress */
  | 'responding'
  /** terminal record written; may still wait for the extension to release the channel */
  | 'done';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export class Exchange {
  state: ExchangeState = 'pending';
  queued = false;
  channel: Channel | null = null;
  /** Body chunks that arrived before a channel was assigned (bounded by the request window). */
  buffered: Uint8Array[] = [];
  /** REQ_END (or a head flagged END) has arrived. */
  requestEnded: boolean;
  /** Response bytes relayed to ingress and not yet credited back. */
  responseOutstanding = 0;
  /** Ingress no longer listens for this slot (terminal record written). */
  detached = false;
  assignedAt = 0;
  /** Put back in the queue once already, after its instance died before answering. */
  retried = false;
  /** The instance it was lost on: its other channels are likely going down too, so not there again. */
  failedOn: Channel['instance'] | null = null;
  /** Safe to send again: idempotent method and no body (so nothing of it was consumed). */
  readonly retryable: boolean;

  constructor(
    /** Request id on the wire; unique per router so a late frame never matches a newer request. */
    readonly id: number,
    readonly slot: number,
    readonly method: string,
    /** The ring's REQ_HEAD payload: [flags][head section][inline body]. */
    readonly head: Uint8Array,
    readonly arrivedAt: number,
    hasNoBody: boolean,
  ) {
    this.requestEnded = hasNoBody;
    this.retryable = hasNoBody && IDEMPOTENT.has(method);
  }
}
