// In-process requests to a Node request listener without a kernel socket (DESIGN §6).
//
// The app keeps its own http.Server: each connection is an in-memory socket handed to it with
// `server.emit('connection', socket)`, so Node's own parser, IncomingMessage, ServerResponse,
// keep-alive, 100-continue, pipelining guards and timeouts run exactly as over TCP, and Express,
// Koa or Fastify see nothing different. Only our side is lean: the request head is serialized
// straight into the socket (no ClientRequest, no Agent), and what the server writes back is parsed
// as it is written (Node's own output: status line, `Name: value` lines, a body framed by
// Content-Length, chunked encoding or the connection's end).
//
// On a loopback TCP connection every request costs four socket syscalls, two more event-loop
// turns and Node's client machinery (Agent bookkeeping, ClientRequest, a second parser); this costs
// a string write and a small parse.
//
// Kept from TCP: backpressure both ways (the app not reading its body stops `write()` returning
// true until 'drain'; a paused response holds the server's writes, so `res.write()` in the app
// returns false), aborts (destroy() closes the connection: the app's req and res see 'close'),
// the app closing a connection (a request without a response fails with ECONNRESET "socket hang
// up"; a response cut short is destroyed), `Connection: close`, informational (1xx) responses
// skipped, HEAD/204/304 without body. Connections are reused while the server keeps them alive.

import { EventEmitter } from 'node:events';
import http from 'node:http';
import { Duplex, Readable } from 'node:stream';
import type { AppRequest } from './app-target.ts';

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_PATH = /[^\u0021-\u00ff]/;

function connReset(message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = 'ECONNRESET';
  return err;
}

/** The server's end of an in-memory connection: what the app's http.Server reads and writes. */
class ServerSocket extends Duplex {
  readonly remoteAddress = '127.0.0.1';
  readonly remoteFamily = 'IPv4';
  readonly localAddress = '127.0.0.1';
  readonly connecting = false;
  timeout: number | undefined = undefined;
  bytesRead = 0;
  bytesWritten = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;

  constructor(
    private readonly conn: Connection,
    readonly localPort: number,
    readonly remotePort: number,
  ) {
    // http.Server sockets are half-open capable: the server decides when to end its side.
    super({ allowHalfOpen: true });
  }

  get readyState(): string {
    return this.destroyed ? 'closed' : this.writable ? 'open' : 'readOnly';
  }

  override _read(): void {
    this.conn.serverWantsMore();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    this.touch();
    this.conn.fromServer(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    this.touch();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) {
      this.bytesWritten += chunks[i]!.chunk.length;
      this.conn.fromServer(chunks[i]!.chunk, null);
    }
    this.bytesWritten += chunks[last]!.chunk.length;
    this.conn.fromServer(chunks[last]!.chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.conn.serverEnded();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.conn.serverEnded();
    callback(err);
  }

  /** Request bytes from us; false once the server has a high-water mark's worth unread. */
  feed(chunk: Buffer): boolean {
    this.bytesRead += chunk.length;
    this.touch();
    return this.push(chunk);
  }

  /**
   * Idle timeout, as net.Socket's. The timer is made once and re-armed afterwards: the server
   * sets its keep-alive timeout after every response and clears it at every request.
   */
  setTimeout(ms: number, callback?: () => void): this {
    this.timeout = ms;
    if (ms > 0) {
      if (this.timer !== null && this.timerMs === ms) this.timer.refresh();
      else {
        if (this.timer !== null) clearTimeout(this.timer);
        this.timerMs = ms;
        this.timer = setTimeout(this.onIdle, ms);
        this.timer.unref();
      }
    }
    if (callback !== undefined) {
      if (ms > 0) this.once('timeout', callback);
      else this.removeListener('timeout', callback);
    }
    return this;
  }

  private readonly onIdle = (): void => {
    if (!this.destroyed && this.timeout !== undefined && this.timeout > 0) this.emit('timeout');
  };

  private touch(): void {
    if (this.timer !== null && this.timeout !== undefined && this.timeout > 0) this.timer.refresh();
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: 'IPv4', port: this.localPort };
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  resetAndDestroy(): this {
    return this.destroy();
  }
}

/** The app's response as the channel reads it (the fields of http.IncomingMessage it uses). */
export class MemoryResponse extends Readable {
  statusCode = 0;
  statusMessage = '';
  rawHeaders: string[] = [];
  readonly httpVersion = '1.1';
  complete = false;

  constructor(
    private readonly conn: Connection,
    private readonly req: MemoryRequest,
  ) {
    super();
  }

  override _read(): void {
    this.conn.responseWantsMore();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Dropped before its end: nothing more is read from this connection.
    if (!this.complete) this.conn.abort(this.req);
    callback(err);
  }
}

type Framing = 'none' | 'length' | 'chunked' | 'close';
type ParseState = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'done';

/** One request in flight on a connection: what channel.ts and direct.ts drive (AppRequest). */
export class MemoryRequest extends EventEmitter implements AppRequest {
  readonly reusedSocket = false;
  ended = false;
  destroyed = false;
  /** The app's response once its head has arrived. */
  res: MemoryResponse | null = null;
  /** Waiting for the server to read: 'drain' when it does. */
  needDrain = false;

  constructor(
    private readonly conn: Connection,
    readonly method: string,
    private readonly chunked: boolean,
  ) {
    super();
  }

  write(chunk: Uint8Array): boolean {
    if (this.ended || this.destroyed || chunk.byteLength === 0) return !this.needDrain;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let ok: boolean;
    if (this.chunked) {
      this.conn.send(Buffer.from(`${buf.length.toString(16)}\r\n`, 'latin1'));
      this.conn.send(buf);
      ok = this.conn.send(CRLF);
    } else ok = this.conn.send(buf);
    if (!ok) this.needDrain = true;
    return ok;
  }

  end(chunk?: Uint8Array): this {
    if (this.ended || this.destroyed) return this;
    if (chunk !== undefined && chunk.byteLength > 0) this.write(chunk);
    this.ended = true;
    if (this.chunked) this.conn.send(LAST_CHUNK);
    this.conn.requestEnded(this);
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.conn.abort(this);
    return this;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/** One in-memory connection into the app's server; serves one request at a time. */
export class Connection {
  readonly socket: ServerSocket;
  private req: MemoryRequest | null = null;
  private state: ParseState = 'done';
  private framing: Framing = 'none';
  private remaining = 0;
  private head = '';
  private line = '';
  private closeAfter = false;
  /** The server ended or closed its side: no more requests on this connection. */
  dead = false;
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  private flushing = false;
  /** A server write waiting for the response's reader. */
  private heldWrite: ((err?: Error | null) => void) | null = null;

  constructor(
    private readonly pool: ConnectionPool,
    localPort: number,
    remotePort: number,
  ) {
    this.socket = new ServerSocket(this, localPort, remotePort);
  }

  get idle(): boolean {
    return this.req === null && !this.dead;
  }

  start(method: string, path: string, headers: readonly string[]): MemoryRequest {
    if (!METHOD.test(method)) throw new TypeError(`Method must be a valid HTTP token ["${method}"]`);
    if (INVALID_PATH.test(path)) throw new TypeError('Request path contains unescaped characters');
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let chunked = false;
    let hasConnection = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
      const lower = name.length === 17 || name.length === 10 ? name.toLowerCase() : '';
      if (lower === 'transfer-encoding') chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      else if (lower === 'connection') hasConnection = true;
      head += `${name}: ${value}\r\n`;
    }
    // As ClientRequest on a keep-alive agent says it.
    if (!hasConnection) head += 'Connection: keep-alive\r\n';
    head += '\r\n';
    const req = new MemoryRequest(this, method, chunked);
    this.req = req;
    this.state = 'head';
    this.head = '';
    this.closeAfter = false;
    this.send(Buffer.from(head, 'latin1'));
    return req;
  }

  /**
   * Bytes of the current request into the server: they arrive a microtask later, never inside our
   * caller (as over a socket), so the server never answers before the caller has its listeners on.
   * False once the server has a high-water mark's worth unread ('drain' follows).
   */
  send(chunk: Buffer): boolean {
    if (this.dead || this.socket.destroyed) return true;
    this.outbox.push(chunk);
    this.outboxBytes += chunk.length;
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(this.flush);
    }
    return this.socket.readableLength + this.outboxBytes < this.socket.readableHighWaterMark;
  }

  private readonly flush = (): void => {
    this.flushing = false;
    const chunks = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    if (this.socket.destroyed) return;
    for (const c of chunks) this.socket.feed(c);
  };

  serverWantsMore(): void {
    const req = this.req;
    if (req !== null && req.needDrain) {
      req.needDrain = false;
      req.emit('drain');
    }
  }

  responseWantsMore(): void {
    const cb = this.heldWrite;
    if (cb === null) return;
    this.heldWrite = null;
    cb();
  }

  requestEnded(req: MemoryRequest): void {
    if (this.req === req && this.state === 'done') this.release();
  }

  /** What the server wrote: parsed and passed on. `callback` acknowledges the write (backpressure). */
  fromServer(chunk: Buffer, callback: ((err?: Error | null) => void) | null): void {
    let ok = true;
    let off = 0;
    while (off < chunk.length) {
      const req = this.req;
      if (req === null || req.destroyed) break; // nobody is listening: dropped
      switch (this.state) {
        case 'head': {
          off = this.parseHead(chunk, off);
          break;
        }
        case 'length': {
          const n = Math.min(this.remaining, chunk.length - off);
          ok = this.body(chunk.subarray(off, off + n)) && ok;
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.complete();
          break;
        }
        case 'close': {
          ok = this.body(off === 0 ? chunk : chunk.subarray(off)) && ok;
          off = chunk.length;
          break;
        }
        case 'chunk-size':
        case 'chunk-crlf':
        case 'trailers': {
          const nl = chunk.indexOf(10, off);
          const end = nl < 0 ? chunk.length : nl + 1;
          this.line += chunk.toString('latin1', off, end);
          off = end;
          if (nl < 0) break;
          const line = this.line.trimEnd();
          this.line = '';
          if (this.state === 'chunk-crlf') this.state = 'chunk-size';
          else if (this.state === 'chunk-size') {
            const size = parseInt(line, 16);
            if (!Number.isFinite(size) || size < 0) return this.broken(callback, 'invalid chunk size from the app');
            if (size === 0) this.state = 'trailers';
            else {
              this.remaining = size;
              this.state = 'chunk-data';
            }
          } else if (line === '') this.complete(); // trailers end (their lines are not relayed)
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.remaining, chunk.length - off);
          ok = this.body(chunk.subarray(off, off + n)) && ok;
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'chunk-crlf';
          break;
        }
        case 'done':
          // Bytes after a complete response, without a request: the server never does that.
          off = chunk.length;
          break;
      }
      if (this.dead && this.req === null) break;
    }
    // A complete response (or one nobody reads any more) holds nothing back.
    if (this.state === 'done' || this.req === null) ok = true;
    if (callback === null) {
      if (!ok) this.heldWrite ??= noop;
      return;
    }
    if (ok && this.heldWrite === noop) this.heldWrite = null;
    if (ok && this.heldWrite === null) callback();
    else {
      // Held until the response's reader wants more (a combined write keeps the latest callback).
      const prev = this.heldWrite;
      this.heldWrite = prev === null || prev === noop ? callback : (err) => (prev(err), callback(err));
    }
  }

  private parseHead(chunk: Buffer, off: number): number {
    const text = chunk.toString('latin1', off);
    const searchFrom = Math.max(0, this.head.length - 3);
    this.head += text;
    const end = this.head.indexOf('\r\n\r\n', searchFrom);
    if (end < 0) return chunk.length;
    const consumed = end + 4 - (this.head.length - text.length);
    const head = this.head.slice(0, end);
    this.head = '';
    const lines = head.split('\r\n');
    const statusLine = lines[0]!;
    const status = Number(statusLine.slice(9, 12));
    if (status >= 100 && status < 200 && status !== 101) return off + consumed; // informational: skipped
    const req = this.req!;
    const res = new MemoryResponse(this, req);
    res.statusCode = status;
    res.statusMessage = statusLine.slice(13);
    const raw: string[] = new Array((lines.length - 1) * 2);
    let length = -1;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const colon = l.indexOf(':');
      const name = l.slice(0, colon);
      const value = l.slice(colon + 1).trim();
      raw[2 * i - 2] = name;
      raw[2 * i - 1] = value;
      const n = name.length;
      if (n === 14 || n === 17 || n === 10) {
        const lower = name.toLowerCase();
        if (lower === 'content-length') length = Number(value);
        else if (lower === 'transfer-encoding') chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
        else if (lower === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(value)) this.closeAfter = true;
      }
    }
    res.rawHeaders = raw;
    req.res = res;
    if (req.method === 'HEAD' || status === 204 || status === 304 || status === 101) this.framing = 'none';
    else if (chunked) this.framing = 'chunked';
    else if (length >= 0) this.framing = 'length';
    else this.framing = 'close';
    if (status === 101) this.closeAfter = true;
    req.emit('response', res);
    switch (this.framing) {
      case 'none':
        this.complete();
        break;
      case 'length':
        this.remaining = length;
        if (length === 0) this.complete();
        else this.state = 'length';
        break;
      case 'chunked':
        this.state = 'chunk-size';
        this.line = '';
        break;
      case 'close':
        this.closeAfter = true;
        this.state = 'close';
        break;
    }
    return off + consumed;
  }

  private body(chunk: Buffer): boolean {
    const res = this.req?.res;
    if (res === null || res === undefined || res.destroyed) return true;
    return res.push(chunk);
  }

  private complete(): void {
    const req = this.req;
    const res = req?.res;
    this.state = 'done';
    if (res !== null && res !== undefined && !res.destroyed) {
      res.complete = true;
      res.push(null);
    }
    // Everything of this response is in its buffer: the server's last write is done (its 'finish'
    // lets the server go on with the connection), whenever the reader gets to it.
    this.responseWantsMore();
    if (req !== null && req.ended) this.release();
  }

  /** The exchange is over on both sides: the connection goes back to the pool (or away). */
  private release(): void {
    this.req = null;
    if (this.closeAfter || this.dead) {
      this.dead = true;
      if (!this.socket.destroyed) this.socket.destroy();
      return;
    }
    this.pool.idle(this);
  }

  private broken(callback: ((err?: Error | null) => void) | null, why: string): void {
    this.fail(connReset(why));
    this.pool.forget(this);
    this.socket.destroy();
    callback?.();
  }

  /** The server ended or closed its side. */
  serverEnded(): void {
    if (this.dead) return;
    this.dead = true;
    this.pool.forget(this);
    // As a client does when the server ends: close our side too, so the server's socket closes.
    if (!this.socket.destroyed) process.nextTick(() => this.socket.destroy());
    const held = this.heldWrite;
    this.heldWrite = null;
    if (held !== null && held !== noop) held();
    const req = this.req;
    if (req === null || req.destroyed) return;
    if (this.state === 'close') return this.complete(); // the body ends with the connection
    if (this.state === 'done') return;
    this.fail(connReset(req.res === null ? 'socket hang up' : 'aborted'));
  }

  private fail(err: NodeJS.ErrnoException): void {
    const req = this.req;
    this.req = null;
    this.dead = true;
    if (req === null || req.destroyed) return;
    const res = req.res;
    if (res === null) {
      req.destroyed = true;
      req.emit('error', err);
    } else if (!res.destroyed) {
      res.destroy(err);
    }
  }

  /** Our side gives up on `req`: the connection is closed (the app sees 'close'). */
  abort(req: MemoryRequest): void {
    if (this.req !== req) return; // already over: the connection may serve another request now
    this.req = null;
    this.dead = true;
    this.pool.forget(this);
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

const noop = (): void => {};

let nextRemotePort = 40_000;

/** Idle in-memory connections into one app server, reused like a keep-alive agent's sockets. */
export class ConnectionPool {
  private readonly free: Connection[] = [];

  constructor(private readonly server: http.Server) {}

  request(method: string, path: string, headers: readonly string[]): MemoryRequest {
    let conn: Connection | undefined;
    while ((conn = this.free.pop()) !== undefined && !conn.idle);
    if (conn === undefined) {
      const at = this.server.address();
      const port = at !== null && typeof at === 'object' ? at.port : 0;
      conn = new Connection(this, port, nextRemotePort);
      nextRemotePort = nextRemotePort >= 60_999 ? 40_000 : nextRemotePort + 1;
      this.server.emit('connection', conn.socket);
    }
    try {
      return conn.start(method, path, headers);
    } catch (err) {
      // Nothing was sent: the connection is still good.
      this.free.push(conn);
      throw err;
    }
  }

  idle(conn: Connection): void {
    this.free.push(conn);
  }

  forget(conn: Connection): void {
    const i = this.free.indexOf(conn);
    if (i >= 0) this.free.splice(i, 1);
  }

  /** Closes every idle connection (the server's closeAllConnections closes the rest). */
  destroy(): void {
    for (const c of this.free.splice(0)) c.socket.destroy();
  }
}
