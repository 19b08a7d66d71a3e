// One client request as it ended, the single input of the request metrics and the access log:
// ingress fills it from what it saw (the client's side) and from the dispatcher's report on the
// terminal record (queue wait, upstream times, instance, retries).

import type { IncomingMessage } from 'node:http';
import type { RequestReport } from '../../core/records.ts';
import type { TraceContext } from '../../core/trace-context.ts';

export interface RequestRecord {
  req: IncomingMessage;
  method: string;
  /** The request target as the client sent it (path and query). */
  target: string;
  /** The status the client got; 0 when it got no response head (it left first, or was reset). */
  status: number;
  /** performance.now() when the head arrived, and how long until the response ended. */
  startedAt: number;
  durationMs: number;
  /** Body bytes read from the client and written to it. */
  bytesIn: number;
  bytesOut: number;
  /** The dispatcher's part; null when the request never reached it (drain, head too large, dispatcher down). */
  report: RequestReport | null;
  /** The router answered in the function's place (core/errors.ts code); null when the function did. */
  routerError: string | null;
  /** The client went away before its response ended. */
  aborted: boolean;
  trace: TraceContext | null;
}
