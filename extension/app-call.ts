// One request a channel is serving (ChannelClient in channel-client.ts): its state from REQ_HEAD to
// its last frame, and the decisions about it that need no WebSocket — whether a failed request may
// be replayed, and what of the response's first bytes rides in the RES_HEAD frame.

import type { Readable } from 'node:stream';
import { responseHeadSize, type Frame, type RequestHead } from '../core/frames.ts';
import type { AppRequest, AppResponse } from './app/target.ts';

export class AppCall {
  appReq: AppRequest | null = null;
  appRes: AppResponse | null = null;
  headSent = false;
  /** REQ_END (or a head flagged END) has arrived and the app request was ended. */
  requestEnded: boolean;
  /** A REQ_BODY was written: the request can no longer be replayed on a fresh connection. */
  bodyStreamed = false;
  retried = false;
  finished = false;
  /** The channel's reading is paused until the app request drains. */
  wsPaused = false;
  /** The app's response is paused until the channel's send buffer drains (or, windowed, credit comes). */
  resPaused = false;
  /**
   * On a multiplexed channel: bodies are paced by CREDIT frames, not by the socket. `credit` is
   * what of the response body the router still takes; `owed`, request body bytes the app has not
   * yet taken, credited back on its 'drain'.
   */
  windowed = false;
  credit = 0;
  owed = 0;
  /** The app's request did not take the last write: `owed` is credited on its drain event. */
  awaitingDrain = false;
  /** Response bytes beyond the credit, sent as credit comes (windowed only), and the end behind them. */
  held: Buffer[] = [];
  pendingEnd: Frame | null = null;
  /** What the body is read from: the app's response, or the gzip stream it is piped through. */
  source: Readable | null = null;
  /** The router told us its client went away (REQ_ABORT). */
  aborted = false;
  readonly startedAt = performance.now();

  constructor(
    readonly id: number,
    readonly head: RequestHead,
    readonly headers: string[],
    readonly inline: Uint8Array | null,
    end: boolean,
  ) {
    this.requestEnded = end;
  }

  /**
   * A pooled connection the app closed while it sat idle (its keep-alive timer, or a thaw after a
   * freeze firing every timer at once): the request may be replayed once on a fresh one if nothing
   * is lost by it.
   */
  mayReplay(req: AppRequest, err: NodeJS.ErrnoException): boolean {
    return (
      req.reusedSocket &&
      !this.retried &&
      !this.bodyStreamed &&
      this.appRes === null &&
      err.code !== undefined &&
      STALE_SOCKET_ERRORS.has(err.code)
    );
  }
}

const STALE_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE']);

export interface InlineBody {
  /** Bytes sent inside RES_HEAD. */
  inline: Buffer | null;
  /** Bytes already read that did not fit: the first RES_BODY. */
  rest: Buffer | null;
  /** The whole response is in `inline`: RES_HEAD carries END. */
  end: boolean;
}

/**
 * Takes what of the response body arrived with its head (up to `inlineBodyBytes`, and never so
 * much that the head's message would outgrow a RES_BODY of `maxChunkBytes`).
 */
export function takeInline(
  res: AppResponse,
  head: { status: number; headers: string[] },
  inlineBodyBytes: number,
  maxChunkBytes: number,
): InlineBody {
  const chunks: Buffer[] = [];
  for (let chunk: Buffer | null = res.read(); chunk !== null; chunk = res.read()) chunks.push(chunk);
  const buffered = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  let inline: Buffer | null = null;
  let rest: Buffer | null = null;
  let max = inlineBodyBytes;
  if (buffered.length > 0) {
    try {
      max = Math.max(0, Math.min(max, maxChunkBytes - responseHeadSize(head)));
    } catch {
      // an invalid head: refused when it is encoded
    }
    inline = buffered.length <= max ? buffered : buffered.subarray(0, max);
    if (buffered.length > max) rest = buffered.subarray(max);
  }
  return { inline, rest, end: res.complete && rest === null };
}

/** Why a response stopped before its end, as the router's log will show it. */
export function whyIncomplete(res: Readable): string {
  const why = res.errored?.message;
  return why !== undefined && why !== 'aborted' ? `the app's response failed: ${why}` : 'the app closed the connection before its response was complete';
}
