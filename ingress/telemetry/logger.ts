// The router's log: one JSON object a line on stdout (pino), which CloudWatch Logs, Loki and jq
// all read as it is. Writes are asynchronous and batched (STDOUT_BATCHED): a line costs the event
// loop its serialisation and a buffer append. Kinds of line, by `type`: 'access' (one per request, access-log.ts), 'event'
// (lifecycle: instances, scaling, invoke failures), 'metrics' (EMF, emf.ts); diagnostics have none.

import { pino, stdTimeFunctions, destination, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../../core/config.ts';
import { describeEvent, type LifecycleEvent } from '../../core/dispatcher/events.ts';

export type { Logger } from 'pino';

export function createLogger(level: LogLevel, dest?: DestinationStream): Logger {
  return pino(
    {
      level,
      // pid and hostname say nothing in a container (1, and the task id the log stream already names).
      base: null,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest ?? destination(STDOUT_BATCHED),
  );
}

/**
 * stdout, written in batches of 4 KiB or every second, whichever comes first: one write (a thread
 * hop and a syscall) per line cost the router about 40 µs a request at 2,000 req/s, most of what
 * its logs cost; batched, a few. A line reaches the log at most a second late.
 */
export const STDOUT_BATCHED = { dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 } as const;

/** A lifecycle event as its log line: the event's fields, and its description as the message. */
export function logEvent(logger: Logger, e: LifecycleEvent): void {
  const level = e.event === 'invoke-failed' ? 'warn' : 'info';
  logger[level]({ type: 'event', ...e }, describeEvent(e));
}
