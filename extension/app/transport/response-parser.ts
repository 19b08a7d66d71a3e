// The HTTP/1.1 response parser of the in-memory transport (pool.ts): what the app's http.Server
// writes, turned into a head, body pieces, trailers and an end. It is pure — bytes in, events out,
// no stream, socket or timer — so that every framing case (1xx interim responses, chunked with
// extensions and trailers, HEAD/204/304 without body, Content-Length, a body read to the
// connection's end, responses back to back) can be tested byte by byte against Node's own
// serializer (response-parser.test.ts), apart from the connection plumbing.
//
// A response's framing depends on the request it answers (a HEAD response has no body whatever its
// Content-Length says), so the caller announces each request with `expect(method)`. Malformed input
// never throws: it yields an `error` event carrying a ResponseParseError with a stable `code`, and
// the parser stays failed (the connection it came from cannot be trusted any more).

/** The stable codes of ResponseParseError. */
export type ResponseParseErrorCode =
  | 'ERR_RESPONSE_PARSE_STATUS_LINE'
  | 'ERR_RESPONSE_PARSE_HEADER'
  | 'ERR_RESPONSE_PARSE_HEAD_TOO_LARGE'
  | 'ERR_RESPONSE_PARSE_CONTENT_LENGTH'
  | 'ERR_RESPONSE_PARSE_CHUNK_SIZE'
  | 'ERR_RESPONSE_PARSE_CHUNK_END'
  | 'ERR_RESPONSE_PARSE_UNSOLICITED'
  | 'ERR_RESPONSE_PARSE_AFTER_UPGRADE'
  | 'ERR_RESPONSE_PARSE_TRUNCATED';

export class ResponseParseError extends Error {
  constructor(
    readonly code: ResponseParseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ResponseParseError';
  }
}

export interface ResponseHead {
  statusCode: number;
  statusMessage: string;
  httpVersion: '1.0' | '1.1';
  /** Flat [name, value, …] as sent, repeats kept. */
  rawHeaders: string[];
}

/** How the body of a final response is delimited. */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'until-close' };

export type ResponseEvent =
  /** A 1xx response other than 101 (100 Continue, 103 Early Hints): the final one follows. */
  | { kind: 'interim'; head: ResponseHead }
  /** The final response's head. `closeAfter`: the connection cannot carry another request. */
  | { kind: 'head'; head: ResponseHead; framing: BodyFraming; closeAfter: boolean }
  /** A piece of the body: a view into the bytes given to push(), valid as long as they are. */
  | { kind: 'body'; data: Buffer }
  /** The trailer fields of a chunked body, when it has any. */
  | { kind: 'trailers'; rawTrailers: string[] }
  /** The response is complete. */
  | { kind: 'end' }
  | { kind: 'error'; error: ResponseParseError };

/**
 * Where the parser is. `idle`: between responses; `head`: reading a head; `length`: a body of
 * known size; `chunk-size`, `chunk-data`, `chunk-data-end`, `trailers`: a chunked body;
 * `until-close`: a body that ends with the connection; `upgraded`: after 101, the bytes are not
 * HTTP any more; `closed`: end() was called; `failed`: malformed input was seen.
 */
export type ParserState =
  | 'idle'
  | 'head'
  | 'length'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-data-end'
  | 'trailers'
  | 'until-close'
  | 'upgraded'
  | 'closed'
  | 'failed';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;.*)?$/;
const CHUNKED_LAST = /(?:^|,)\s*chunked\s*$/i;
const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/i;
const KEEP_ALIVE_TOKEN = /(?:^|,)\s*keep-alive\s*(?:,|$)/i;
const SECTION_END = Buffer.from('\r\n\r\n', 'latin1');

/** Leading and trailing optional whitespace (SP, HTAB) of a field value, as RFC 9110 defines it. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

export interface ResponseParserOptions {
  /** Longest head (status line and fields, or the trailers) accepted. Default: no limit. */
  maxHeadBytes?: number;
}

export class ResponseParser {
  private stateNow: ParserState = 'idle';
  /** Methods of the requests whose responses are still to come, oldest first. */
  private readonly methods: string[] = [];
  /** The head or trailer section read so far (latin1), or the current chunk-size line. */
  private text = '';
  private remaining = 0;
  private failure: ResponseParseError | null = null;
  private readonly maxHeadBytes: number;

  constructor(options: ResponseParserOptions = {}) {
    this.maxHeadBytes = options.maxHeadBytes ?? Infinity;
  }

  get state(): ParserState {
    return this.stateNow;
  }

  /** A request was sent whose response is to be parsed next (after any already expected). */
  expect(method: string): void {
    this.methods.push(method);
  }

  /** Parses `chunk`; the events it completes, in order. */
  push(chunk: Buffer): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    let off = 0;
    while (off < chunk.length && this.failure === null) {
      switch (this.stateNow) {
        case 'idle':
          if (this.methods.length === 0) {
            this.fail(out, 'ERR_RESPONSE_PARSE_UNSOLICITED', 'bytes from the app without a request to answer');
            break;
          }
          this.stateNow = 'head';
          this.text = '';
          break;
        case 'head':
        case 'trailers':
          off = this.readSection(chunk, off, out);
          break;
        case 'length':
        case 'chunk-data': {
          const n = Math.min(this.remaining, chunk.length - off);
          out.push({ kind: 'body', data: chunk.subarray(off, off + n) });
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            if (this.stateNow === 'length') this.finishMessage(out);
            else {
              this.stateNow = 'chunk-data-end';
              this.text = '';
            }
          }
          break;
        }
        case 'chunk-size':
        case 'chunk-data-end':
          off = this.readChunkLine(chunk, off, out);
          break;
        case 'until-close':
          out.push({ kind: 'body', data: off === 0 ? chunk : chunk.subarray(off) });
          off = chunk.length;
          break;
        case 'upgraded':
          this.fail(out, 'ERR_RESPONSE_PARSE_AFTER_UPGRADE', 'bytes after 101 Switching Protocols are not HTTP');
          break;
        case 'closed':
          this.fail(out, 'ERR_RESPONSE_PARSE_UNSOLICITED', 'bytes after the end of the connection');
          break;
        case 'failed':
          break;
      }
    }
    if (this.failure !== null && out.length === 0) out.push({ kind: 'error', error: this.failure });
    return out;
  }

  /**
   * The connection ended. Completes a body read to the connection's end; any other response
   * still expected or partly read is truncated.
   */
  end(): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    if (this.failure !== null) return [{ kind: 'error', error: this.failure }];
    const was = this.stateNow;
    if (was === 'until-close') {
      this.stateNow = 'closed';
      this.methods.shift();
      out.push({ kind: 'end' });
    }
    if (was === 'idle' || was === 'until-close' || was === 'upgraded' || was === 'closed') {
      if (this.methods.length === 0) {
        this.stateNow = 'closed';
        return out;
      }
    }
    this.fail(out, 'ERR_RESPONSE_PARSE_TRUNCATED', 'the connection ended before the response was complete');
    return out;
  }

  private fail(out: ResponseEvent[], code: ResponseParseErrorCode, message: string): void {
    this.failure = new ResponseParseError(code, message);
    this.stateNow = 'failed';
    out.push({ kind: 'error', error: this.failure });
  }

  /** Accumulates a head or trailer section up to its empty line; returns the new offset. */
  private readSection(chunk: Buffer, off: number, out: ResponseEvent[]): number {
    // `end`: the section's length (-1: its empty line is still to come), which may be 0 (no
    // trailers: the CRLF alone); `consumed`: the bytes of this chunk it and its empty line take.
    let end: number;
    let consumed = 0;
    let section = '';
    if (this.text === '') {
      // The usual case, a whole section in this chunk: only its own bytes become a string.
      const bare = this.stateNow === 'trailers' && chunk[off] === 13 && chunk[off + 1] === 10;
      const at = bare ? off : chunk.indexOf(SECTION_END, off);
      end = at < 0 ? -1 : at - off;
      if (end < 0) this.text = chunk.toString('latin1', off);
      else {
        consumed = end + (bare ? 2 : 4);
        section = chunk.toString('latin1', off, at);
      }
    } else {
      // A section split across chunks.
      const searchFrom = Math.max(0, this.text.length - 3);
      const added = chunk.length - off;
      this.text += chunk.toString('latin1', off);
      const bare = this.stateNow === 'trailers' && this.text.startsWith('\r\n');
      end = bare ? 0 : this.text.indexOf('\r\n\r\n', searchFrom);
      if (end >= 0) {
        consumed = end + (bare ? 2 : 4) - (this.text.length - added);
        section = this.text.slice(0, end);
        this.text = '';
      }
    }
    if (end < 0 ? this.text.length > this.maxHeadBytes : end > this.maxHeadBytes) {
      this.fail(out, 'ERR_RESPONSE_PARSE_HEAD_TOO_LARGE', `a response head over ${this.maxHeadBytes} bytes`);
      return chunk.length;
    }
    if (end < 0) return chunk.length;
    if (this.stateNow === 'trailers') {
      const fields = end === 0 ? [] : this.fields(section, 0, out, 'trailer');
      if (fields === null) return chunk.length;
      if (fields.length > 0) out.push({ kind: 'trailers', rawTrailers: fields });
      this.finishMessage(out);
    } else {
      this.onHead(section, out);
    }
    return off + consumed;
  }

  /** The flat [name, value, …] of the CRLF-separated field lines of `section` from `from`, or null (and an error event) when one is malformed; scanned in place. */
  private fields(section: string, from: number, out: ResponseEvent[], what: string): string[] | null {
    const raw: string[] = [];
    let at = from;
    while (at < section.length) {
      let eol = section.indexOf('\r\n', at);
      if (eol < 0) eol = section.length;
      const colon = section.indexOf(':', at);
      const name = colon < 0 || colon > eol ? '' : section.slice(at, colon);
      if (!TOKEN.test(name)) {
        this.fail(out, 'ERR_RESPONSE_PARSE_HEADER', `a malformed ${what} line from the app: ${JSON.stringify(section.slice(at, Math.min(eol, at + 80)))}`);
        return null;
      }
      raw.push(name, trimOws(section.slice(colon + 1, eol)));
      at = eol + 2;
    }
    return raw;
  }

  private onHead(section: string, out: ResponseEvent[]): void {
    let eol = section.indexOf('\r\n');
    if (eol < 0) eol = section.length;
    const m = STATUS_LINE.exec(section.slice(0, eol));
    if (m === null) {
      return this.fail(out, 'ERR_RESPONSE_PARSE_STATUS_LINE', `a malformed status line from the app: ${JSON.stringify(section.slice(0, Math.min(eol, 80)))}`);
    }
    const rawHeaders = this.fields(section, eol + 2, out, 'header');
    if (rawHeaders === null) return;
    const head: ResponseHead = {
      statusCode: Number(m[2]),
      statusMessage: m[3] ?? '',
      httpVersion: m[1] === '0' ? '1.0' : '1.1',
      rawHeaders,
    };
    const status = head.statusCode;
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim: the request is still waiting for its final response.
      this.stateNow = 'head';
      out.push({ kind: 'interim', head });
      return;
    }
    let length = -1;
    let chunked = false;
    let close = false;
    let keepAlive = false;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      const n = name.length;
      if (n !== 14 && n !== 17 && n !== 10) continue;
      const lower = name.toLowerCase();
      const value = rawHeaders[i + 1]!;
      if (lower === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length >= 0 && Number(value) !== length)) {
          return this.fail(out, 'ERR_RESPONSE_PARSE_CONTENT_LENGTH', `an invalid content-length from the app: ${JSON.stringify(value.slice(0, 40))}`);
        }
        length = Number(value);
      } else if (lower === 'transfer-encoding') chunked = CHUNKED_LAST.test(value);
      else if (lower === 'connection') {
        if (CLOSE_TOKEN.test(value)) close = true;
        if (KEEP_ALIVE_TOKEN.test(value)) keepAlive = true;
      }
    }
    const method = this.methods[0]!;
    let framing: BodyFraming;
    if (method === 'HEAD' || status === 204 || status === 304 || status === 101) framing = { kind: 'none' };
    else if (chunked) framing = { kind: 'chunked' };
    else if (length >= 0) framing = { kind: 'length', length };
    else framing = { kind: 'until-close' };
    const closeAfter =
      close || status === 101 || framing.kind === 'until-close' || (head.httpVersion === '1.0' && !keepAlive);
    out.push({ kind: 'head', head, framing, closeAfter });
    switch (framing.kind) {
      case 'none':
        if (status === 101) {
          this.methods.shift();
          this.stateNow = 'upgraded';
          out.push({ kind: 'end' });
        } else this.finishMessage(out);
        break;
      case 'length':
        this.remaining = framing.length;
        if (framing.length === 0) this.finishMessage(out);
        else this.stateNow = 'length';
        break;
      case 'chunked':
        this.stateNow = 'chunk-size';
        this.text = '';
        break;
      case 'until-close':
        this.stateNow = 'until-close';
        break;
    }
  }

  /** A chunk-size line, or the CRLF after a chunk's data; returns the new offset. */
  private readChunkLine(chunk: Buffer, off: number, out: ResponseEvent[]): number {
    const nl = chunk.indexOf(10, off);
    const end = nl < 0 ? chunk.length : nl + 1;
    this.text += chunk.toString('latin1', off, end);
    if (nl < 0) {
      // A chunk-size line is short (extensions aside): a runaway one is not HTTP.
      if (this.text.length > Math.min(this.maxHeadBytes, 64 * 1024)) this.badChunkLine(out);
      return end;
    }
    const line = this.text;
    this.text = '';
    if (!line.endsWith('\r\n')) {
      this.badChunkLine(out);
      return end;
    }
    if (this.stateNow === 'chunk-data-end') {
      if (line.length !== 2) {
        this.fail(out, 'ERR_RESPONSE_PARSE_CHUNK_END', 'a chunk from the app longer than its size');
        return end;
      }
      this.stateNow = 'chunk-size';
      return end;
    }
    const m = CHUNK_SIZE.exec(line.slice(0, -2));
    if (m === null) {
      this.badChunkLine(out);
      return end;
    }
    const size = parseInt(m[1]!, 16);
    if (size === 0) this.stateNow = 'trailers';
    else {
      this.remaining = size;
      this.stateNow = 'chunk-data';
    }
    return end;
  }

  private badChunkLine(out: ResponseEvent[]): void {
    this.fail(out, 'ERR_RESPONSE_PARSE_CHUNK_SIZE', 'invalid chunk size from the app');
  }

  private finishMessage(out: ResponseEvent[]): void {
    this.methods.shift();
    this.stateNow = 'idle';
    out.push({ kind: 'end' });
  }
}
