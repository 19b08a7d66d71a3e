// The server's end of an in-memory connection (pool.ts): a Duplex that passes for a net.Socket
// closely enough that Node's http.Server runs over it exactly as over TCP (idle timeouts,
// destroySoon, addresses). It only moves bytes; what they mean is the peer's business, so the
// peer is an interface here and this module imports nothing of the transport.

import { Duplex } from 'node:stream';

/** The client side of the connection, which the socket reports to. */
export interface SocketPeer {
  /** The server read what it had: the request may send more. */
  serverWantsMore(): void;
  /** The server wrote `chunk`; `callback` (when given) acknowledges the write once it is taken. */
  fromServer(chunk: Buffer, callback: ((err?: Error | null) => void) | null): void;
  /** The server ended or destroyed its side. */
  serverEnded(): void;
  /** The app's ServerResponse on this connection finished: every byte of it has been written. */
  responseFinished(): void;
}

/** The server's end of an in-memory connection: what the app's http.Server reads and writes. */
export class ServerSocket extends Duplex {
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
    private readonly conn: SocketPeer,
    readonly localPort: number,
    readonly remotePort: number,
  ) {
    // http.Server sockets are half-open capable: the server decides when to end its side.
    super({ allowHalfOpen: true });
  }

  /** The server's response on this connection finished (pool.ts hears it from the server's 'request'). */
  responseFinished(): void {
    this.conn.responseFinished();
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
