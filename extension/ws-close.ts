// Just enough of the WebSocket framing (RFC 6455 §5.2) for the extension to end a relayed
// WebSocket cleanly: where one frame ends in a byte stream, and a close frame of its own. The
// tunnel (app-tunnel.ts) relays the bytes without reading messages; when the instance must go, it
// waits for a frame boundary in both directions and puts a close frame there, so that neither the
// client nor the app sees a message cut in two. Control frames may come between the fragments of
// a message (§5.4), so a frame boundary is enough.

import { randomBytes } from 'node:crypto';

/** Follows the frames of one direction of a WebSocket connection, header by header. */
export class FrameBoundary {
  private readonly header = Buffer.alloc(14);
  /** Header bytes of the frame being read so far (0 between frames and within a payload). */
  private have = 0;
  /** How many header bytes this frame has, once its second byte says. */
  private need = 2;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;

  /** No frame is partly through: a frame of our own may go here. */
  get atBoundary(): boolean {
    return this.have === 0 && this.remaining === 0;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        this.remaining -= n;
        i += n;
        continue;
      }
      this.header[this.have++] = chunk[i++]!;
      if (this.have === 2) {
        const len7 = this.header[1]! & 0x7f;
        this.need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((this.header[1]! & 0x80) !== 0 ? 4 : 0);
      }
      if (this.have >= 2 && this.have === this.need) {
        const len7 = this.header[1]! & 0x7f;
        this.remaining = len7 === 126 ? this.header.readUInt16BE(2) : len7 === 127 ? Number(this.header.readBigUInt64BE(2)) : len7;
        this.have = 0;
        this.need = 2;
      }
    }
  }
}

/**
 * A close frame with `code` and a short reason. `masked`: as a client sends it (toward the app,
 * which must get masked frames from its client), else as a server does (toward the client).
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = Buffer.from(reason.slice(0, 100), 'utf8');
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  if (!masked) return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
  const mask = randomBytes(4);
  for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, payload]);
}
