// One upgraded connection (a WebSocket) between the router and the app, on the channel it holds
// for its whole life (docs/PROTOCOL.md, "Upgrades"). The upgrade request goes to the app over a
// connection of its own (target.upgrade); a 101 is sent back with its Upgrade and Connection fields
// and from then on the bytes are relayed raw: REQ_BODY into the app's socket, the socket's output
// as RES_BODY. Either side's end ends the tunnel with RES_END, which frees the channel. Any other
// answer is relayed as an ordinary response, after which the tunnel is over too.
//
// Memory is bounded both ways as for requests: the app's socket is paused while the channel has
// more than highWaterMark bytes unsent, and the channel stops reading while the app's socket has
// not taken what it was given.
//
// A tunnel ends cleanly when its instance must go (the deadline, the router's GOAWAY): a WebSocket
// is closed with a close frame of its own (ws-close.ts) at a message boundary, toward the client
// with 1012 (service restart: reconnect) or 1001 (going away), and toward the app with the same
// code, so neither side sees the connection drop mid-message.

import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Frame, RequestHead } from '../core/frames.ts';
import { endToEndHeaders } from '../core/http-headers.ts';
import type { AppTarget } from './app/target.ts';
import { FrameBoundary, closeFrame } from './ws-close.ts';

/** What a tunnel needs of the channel that carries it. */
export interface TunnelChannel {
  /** Sends a frame; `sent` runs once the socket has taken it. */
  send(f: Frame, sent?: () => void): void;
  /** Bytes the channel has queued and not yet sent. */
  buffered(): number;
  readonly highWaterMark: number;
  readonly maxChunkBytes: number;
  pauseReading(): void;
  resumeReading(): void;
  /** The tunnel is over (RES_END or RES_ERROR sent): the channel is free. */
  ended(t: AppTunnel): void;
}

/** Why a tunnel is being closed by us rather than by its client or app. */
export type TunnelCloseCode = 1001 | 1012;

export class AppTunnel {
  private req: http.ClientRequest | null = null;
  private socket: Duplex | null = null;
  private over = false;
  /** Client bytes that came before the app answered 101 (a client may send its first frames at once). */
  private early: Buffer[] = [];
  /** A WebSocket: its frames are tracked so that a close frame can go between two of them. */
  private readonly websocket: boolean;
  private toClient: FrameBoundary | null = null;
  private toApp: FrameBoundary | null = null;
  /** A close of ours is waiting for a message to end (in either direction). */
  private closing: TunnelCloseCode | null = null;
  private closeSent = false;

  constructor(
    readonly id: number,
    private readonly head: RequestHead,
    private readonly ch: TunnelChannel,
    private readonly target: AppTarget,
  ) {
    const upgrade = headerValue(head.headers, 'upgrade');
    this.websocket = upgrade !== undefined && /(^|,)\s*websocket\s*(,|$)/i.test(upgrade);
  }

  start(inline: Uint8Array | null): void {
    if (inline !== null && inline.byteLength > 0) this.early.push(Buffer.from(inline));
    if (this.target.upgrade === undefined) {
      return this.answer(501, `${this.target.description} cannot take protocol upgrades: serve WebSockets from a request listener, an http.Server or a { port } app`);
    }
    let req: http.ClientRequest;
    try {
      req = this.target.upgrade(this.head.method, this.head.target, upgradeHeaders(this.head.headers));
    } catch (err) {
      return this.fail(`the upgrade could not be sent to the app: ${(err as Error).message}`);
    }
    this.req = req;
    req.on('upgrade', (res: http.IncomingMessage, socket: Duplex, head: Buffer) => this.switched(res, socket, head));
    req.on('response', (res: http.IncomingMessage) => this.refused(res));
    req.on('error', (err) => this.fail(`the app could not be reached for the upgrade: ${err.message}`));
    req.end();
  }

  private switched(res: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.over) return void socket.destroy();
    this.socket = socket;
    if (this.websocket) {
      this.toClient = new FrameBoundary();
      this.toApp = new FrameBoundary();
    }
    // Upgrade and Connection are what a 101 says; other hop-by-hop fields still stay behind.
    const headers = [...endToEndHeaders(res.rawHeaders)];
    for (const name of ['upgrade', 'connection']) {
      const v = headerValue(res.rawHeaders, name);
      if (v !== undefined) headers.push(name, v);
    }
    this.ch.send({ type: 'res-head', id: this.id, head: { status: 101, headers }, end: false, body: null });
    socket.on('error', () => {}); // 'close' follows
    socket.on('data', (chunk: Buffer) => this.fromApp(chunk));
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    if (head.length > 0) this.fromApp(head);
    for (const chunk of this.early.splice(0)) this.toAppSocket(chunk);
    if (this.closing !== null) this.close(this.closing);
  }

  /** Bytes from the app for the client. */
  private fromApp(chunk: Buffer): void {
    if (this.over || this.closeSent) return;
    this.toClient?.push(chunk);
    const max = this.ch.maxChunkBytes;
    for (let at = 0; at < chunk.length; at += max) {
      this.ch.send({ type: 'res-body', id: this.id, body: chunk.subarray(at, Math.min(chunk.length, at + max)) }, this.onSent);
    }
    if (this.ch.buffered() > this.ch.highWaterMark) this.socket?.pause();
    if (this.closing !== null) this.tryClose();
  }

  private readonly onSent = (): void => {
    if (this.socket !== null && this.socket.isPaused() && this.ch.buffered() <= this.ch.highWaterMark / 2) this.socket.resume();
  };

  /** Frames of this tunnel from the router. */
  fromRouter(f: Frame): void {
    if (this.over) return;
    switch (f.type) {
      case 'req-body':
        if (this.socket === null) this.early.push(Buffer.from(f.body));
        else if (!this.closeSent) this.toAppSocket(Buffer.from(f.body));
        return;
      case 'req-end':
        // The client ended its side; the app decides when to end its own.
        this.socket?.end();
        if (this.socket === null) this.finish();
        return;
      case 'req-abort':
        this.socket?.destroy();
        return this.finish();
    }
  }

  private toAppSocket(chunk: Buffer): void {
    const socket = this.socket!;
    this.toApp?.push(chunk);
    if (!socket.write(chunk)) {
      this.ch.pauseReading();
      socket.once('drain', () => this.ch.resumeReading());
    }
    if (this.closing !== null) this.tryClose();
  }

  /**
   * Closes the tunnel on our side: a WebSocket with a close frame each way, between two messages,
   * then the connection; anything else at once.
   */
  close(code: TunnelCloseCode): void {
    if (this.over) return;
    this.closing ??= code;
    // Before the app's answer: closed as soon as it switches (a refusal ends the tunnel anyway).
    if (this.socket === null) return;
    if (!this.websocket) {
      this.socket.destroy();
      return this.finish();
    }
    this.tryClose();
  }

  private tryClose(): void {
    if (this.closeSent || this.closing === null || this.socket === null) return;
    if (!this.toClient!.atBoundary || !this.toApp!.atBoundary) return;
    this.closeSent = true;
    const code = this.closing;
    const reason = code === 1012 ? 'service restart' : 'going away';
    // The client sees the server close; the app sees its client close (a client's frames are masked).
    this.ch.send({ type: 'res-body', id: this.id, body: closeFrame(code, reason, false) });
    const socket = this.socket;
    socket.end(closeFrame(code, reason, true));
    // The app answers with its own close frame and ends; if it does not, it is cut.
    setTimeout(() => socket.destroy(), 1000).unref();
    this.finish();
  }

  /** Drops the connection with nothing more said (the hard stop). */
  stop(): void {
    this.socket?.destroy();
    this.req?.destroy();
    this.over = true;
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.ch.send({ type: 'res-end', id: this.id });
    this.ch.ended(this);
  }

  /** The app answered the upgrade with something other than 101: relayed as it is, then over. */
  private refused(res: http.IncomingMessage): void {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', () => this.fail('the app failed mid-response'));
    res.on('end', () => {
      if (this.over) return;
      const body = Buffer.concat(chunks);
      const headers = withLength(endToEndHeaders(res.rawHeaders), body.length);
      this.ch.send({ type: 'res-head', id: this.id, head: { status: res.statusCode ?? 502, headers }, end: true, body: body.length > 0 ? body : null });
      this.over = true;
      this.ch.ended(this);
    });
  }

  private answer(status: number, text: string): void {
    const body = Buffer.from(`${text}\n`);
    this.ch.send({ type: 'res-head', id: this.id, head: { status, headers: ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length)] }, end: true, body });
    this.over = true;
    this.ch.ended(this);
  }

  private fail(message: string): void {
    if (this.over) return;
    this.over = true;
    this.socket?.destroy();
    this.ch.send({ type: 'res-error', id: this.id, message });
    this.ch.ended(this);
  }
}

function headerValue(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) return headers[i + 1];
  return undefined;
}

/** The request's end-to-end fields, plus what makes it an upgrade (and a Host if it had none). */
function upgradeHeaders(raw: readonly string[]): string[] {
  const h = endToEndHeaders(raw);
  if (headerValue(h, 'host') === undefined) h.push('host', 'localhost');
  const upgrade = headerValue(raw, 'upgrade');
  if (upgrade !== undefined) h.push('connection', 'Upgrade', 'upgrade', upgrade);
  return h;
}

/** A refused upgrade's answer was read whole: its length is what it is. */
function withLength(headers: string[], length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'content-length') out.push(headers[i]!, headers[i + 1]!);
  out.push('content-length', String(length));
  return out;
}
