// Why the router refused a channel's WebSocket upgrade (401 bad token or secret, 409 unknown
// instance, 503 no workers accepted): the status and the first bytes of the reason, so that the
// invocation or worker can report it and decide whether reconnecting makes sense.

import type { IncomingMessage } from 'node:http';

/**
 * Reads the start of a refused upgrade's body (for at most 200 ms) and calls `done` once with the
 * message to report; the response is destroyed then.
 */
export function readRefusal(res: IncomingMessage, done: (message: string) => void): void {
  let given = false;
  const give = (why: string) => {
    if (given) return;
    given = true;
    clearTimeout(timer);
    res.destroy();
    done(`Unexpected server response: ${res.statusCode ?? 0}${why ? ` (${why})` : ''}`);
  };
  const timer = setTimeout(() => give(''), 200);
  res.once('data', (c: Buffer) => give(c.toString('utf8').trim().slice(0, 200)));
  res.once('end', () => give(''));
  res.once('error', () => give(''));
}
