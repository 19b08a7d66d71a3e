// In-process requests to a Node request listener without a kernel socket: the connections and
// their pool (socket.ts is the server's end of a connection, response-parser.ts reads its output).
//
// The app keeps its own http.Server: each connection is an in-memory socket handed to it with
// `server.emit('connection', socket)`, so Node's own parser, IncomingMessage, ServerResponse,
// keep-alive, 100-continue, pipelining guards and timeouts run exactly as over TCP, and Express,
// Koa or Fastify see nothing different. Only our side is lean: the request head is serialized
// straight into the socket (no ClientRequest, no Agent), and what the server writes back is parsed
// as it is written (response-parser.ts).
//
// Over loopback TCP each request would cost four socket syscalls, two more event-loop turns and
// Node's client machinery (Agent, ClientRequest, a second parser); this, a string write and a parse.
//
// Kept from TCP: backpressure both ways (the app not reading its body stops `write()` returning
// true until 'drain'; a paused response holds the server's writes, so `res.write()` in the app
// returns false), aborts (destroy() closes the connection: the app's req and res see 'close'),
// the app closing a connection (a request without a response fails with ECONNRESET "socket hang
// up"; a response cut short is destroyed), `Connection: close`, informational (1xx) responses
// reported as 'information' (as http.ClientRequest does), trailers as `rawTrailers`, HEAD/204/304
// without body. Connections are reused while the server keeps them alive.

import { EventEmitter } from 'node:events';
import http from 'node:http';
import { Readable } from 'node:stream';
import type { AppRequest } from '../target.ts';
import { ResponseParser, type ResponseHead } from './response-parser.ts';
import { ServerSocket, type SocketPeer } from './socket.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_PATH = /[^\u0021-\u00ff]/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/; // not field content (RFC 9110 §5.5), as http.validateHeaderValue says

function connReset(message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = 'ECONNRESET';
  return err;
}

/** The app's response as the channel reads it (the fields of http.IncomingMessage it uses). */
export class MemoryResponse extends Readable {
  statusCode = 0;
  statusMessage = '';
  rawHeaders: string[] = [];
  rawTrailers: string[] = [];
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

/** One request in flight on a connection: what the channel and direct mode drive (AppRequest). */
export class MemoryRequest extends EventEmitter implements AppRequest {
  readonly reusedSocket = false;
  ended = false;
  destroyed = false;
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
export class Connection implements SocketPeer {
  readonly socket: ServerSocket;
  private req: MemoryRequest | null = null;
  /** Reads its responses; `idle` after each complete one (a connection whose response did not complete is not reused). */
  private readonly parser = new ResponseParser();
  /** No response is being read: bytes from the server now are dropped (it never sends any). */
  private responseDone = true;
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
    if (!TOKEN.test(method)) throw new TypeError(`Method must be a valid HTTP token ["${method}"]`);
    if (INVALID_PATH.test(path)) throw new TypeError('Request path contains unescaped characters');
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let chunked = false;
    let hasConnection = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      // http.validateHeaderName's and validateHeaderValue's checks, without their wrappers' cost.
      if (!TOKEN.test(name)) throw new TypeError(`Header name must be a valid HTTP token ["${name}"]`);
      if (INVALID_VALUE.test(value)) throw new TypeError(`Invalid character in header content ["${name}"]`);
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
    this.parser.expect(method);
    this.responseDone = false;
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
    if (this.req === req && this.responseDone) this.release();
  }

  /** What the server wrote: parsed and passed on. `callback` acknowledges the write (backpressure). */
  fromServer(chunk: Buffer, callback: ((err?: Error | null) => void) | null): void {
    let ok = true;
    const req = this.req;
    // Without a listening request (or after a complete response) the bytes are dropped.
    if (req !== null && !req.destroyed && !this.responseDone) {
      for (const ev of this.parser.push(chunk)) {
        const current = this.req;
        if (current === null || current.destroyed) break; // nobody is listening any more
        if (ev.kind === 'head') this.onHead(current, ev.head, ev.closeAfter);
        else if (ev.kind === 'body') ok = this.body(ev.data) && ok;
        else if (ev.kind === 'end') {
          this.complete();
          break;
        } else if (ev.kind === 'error') return this.broken(callback, ev.error.message);
        else if (ev.kind === 'interim') current.emit('information', ev.head); // as http.ClientRequest's
        else if (ev.kind === 'trailers' && current.res !== null) current.res.rawTrailers = ev.rawTrailers;
        if (this.dead && this.req === null) break;
      }
    }
    // A complete response (or one nobody reads any more) holds nothing back.
    if (this.responseDone || this.req === null) ok = true;
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

  private onHead(req: MemoryRequest, head: ResponseHead, closeAfter: boolean): void {
    const res = new MemoryResponse(this, req);
    res.statusCode = head.statusCode;
    res.statusMessage = head.statusMessage;
    res.rawHeaders = head.rawHeaders;
    req.res = res;
    this.closeAfter = closeAfter;
    req.emit('response', res);
  }

  private body(chunk: Buffer): boolean {
    const res = this.req?.res;
    if (res === null || res === undefined || res.destroyed) return true;
    return res.push(chunk);
  }

  private complete(): void {
    const req = this.req;
    const res = req?.res;
    this.responseDone = true;
    if (res !== null && res !== undefined && !res.destroyed) {
      res.complete = true;
      res.push(null);
    }
    // Everything of this response is in its buffer: the server's last write is done (its 'finish'
    // lets the server go on with the connection), whenever the reader gets to it.
    this.responseWantsMore();
    if (req !== null && req.ended) this.release();
  }

  /** The request and its response are both over: the connection goes back to the pool (or away). */
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

  /**
   * The app's response finished while its body is still short of its content-length: Node does
   * not check that, and the missing bytes will never come (the server waits for the next request on
   * this connection). The response fails now rather than leave its client waiting.
   */
  responseFinished(): void {
    if (this.req === null || this.responseDone || this.parser.state !== 'length') return;
    this.broken(null, "the app ended its response short of its content-length");
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
    if (req === null || req.destroyed || this.responseDone) return;
    // A body delimited by the connection's end is complete now; anything else was cut short.
    if (this.parser.end()[0]?.kind === 'end') return this.complete();
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

/** Idle in-memory connections into one app server, reused like a keep-alive agent's sockets. */
export class ConnectionPool {
  private readonly free: Connection[] = [];
  /** The port the server sees each new connection come from: distinct among its connections. */
  private nextRemotePort = 40_000;

  constructor(private readonly server: http.Server) {
    // Hears when each response the server writes over our connections is finished (responseFinished).
    server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const socket = req.socket;
      if (socket instanceof ServerSocket) res.once('finish', () => socket.responseFinished());
    });
  }

  request(method: string, path: string, headers: readonly string[]): MemoryRequest {
    let conn: Connection | undefined;
    while ((conn = this.free.pop()) !== undefined && !conn.idle);
    if (conn === undefined) {
      const at = this.server.address();
      const port = at !== null && typeof at === 'object' ? at.port : 0;
      conn = new Connection(this, port, this.nextRemotePort);
      this.nextRemotePort = this.nextRemotePort >= 60_999 ? 40_000 : this.nextRemotePort + 1;
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
