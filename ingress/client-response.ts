// How the router writes to a client's ServerResponse where Node's API stops short: a response cut
// short, raw bytes ahead of the head (1xx), trailers it filters, and the router's own answers from
// the error catalog. Used by proxy.ts, which streams the responses.

import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import { ERROR_CODE_HEADER } from '../core/errors.ts';
import { endToEndHeaders } from '../core/http-headers.ts';
import { readHeaderList, type HeaderList } from '../core/frames.ts';

/**
 * A response that cannot be finished (its body is cut short): what was written still reaches the
 * client, then the connection closes, the only way HTTP/1.1 has to say the response is incomplete.
 */
export function closeAfterFlush(res: ServerResponse): void {
  const socket = res.socket;
  if (socket === null || socket.destroyed) res.destroy();
  else socket.destroySoon();
}

/** Standard reason phrases of the informational statuses Node writes itself. */
export const STATUS_TEXT: Record<number, string> = { 100: 'Continue', 102: 'Processing', 103: 'Early Hints' };

/**
 * Bytes written to the client's connection before the response's head, in order with it: the
 * ServerResponse's own raw writer (which writeContinue and writeEarlyHints use; it queues while
 * the response has no socket yet), else the socket.
 */
export function writeRaw(res: ServerResponse, text: string): void {
  const raw = (res as unknown as { _writeRaw?: (data: string, encoding: BufferEncoding) => boolean })._writeRaw;
  if (typeof raw === 'function') raw.call(res, text, 'latin1');
  else res.socket?.write(text, 'latin1');
}

/**
 * The response's trailers (RES_END's payload). Node sends them only with a chunked body: after a
 * head with content-length (or to an HTTP/1.0 client) they are dropped, as a direct Node server
 * drops them. Malformed or refused ones are dropped too; the body is complete either way.
 */
export function addTrailers(res: ServerResponse, payload: Uint8Array): void {
  let trailers: HeaderList;
  try {
    trailers = endToEndHeaders(readHeaderList(payload));
  } catch {
    return;
  }
  const pairs: [string, string][] = [];
  for (let i = 0; i < trailers.length; i += 2) {
    try {
      validateHeaderName(trailers[i]!);
      validateHeaderValue(trailers[i]!, trailers[i + 1]!);
      pairs.push([trailers[i]!, trailers[i + 1]!]);
    } catch {
      // left out
    }
  }
  if (pairs.length > 0) res.addTrailers(pairs);
}

/** The router's own answer in place of the function's: status, code header and text from the catalog. */
export function answer(res: ServerResponse, error: { code: string; status: number; message: string }, detail?: string, close = false): void {
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', [ERROR_CODE_HEADER]: error.code };
  if (error.status === 503) headers['retry-after'] = '1';
  if (close) headers.connection = 'close';
  res.writeHead(error.status, headers).end(`${detail ?? error.message}\n`);
}

export function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}
