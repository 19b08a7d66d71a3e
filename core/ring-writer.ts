// A ring producer that never drops a record: when the ring is full, records wait in order in a
// local queue until the consumer frees space. Callers learn through `onBlocked` / `onUnblocked`
// so they can pause their sources; per-slot credit windows keep that queue small anyway.

import { RingProducer } from './ring.ts';

interface Queued {
  type: number;
  slot: number;
  bytes: Uint8Array;
}

export class RingWriter {
  private readonly queue: Queued[] = [];
  private flushing = false;
  private closed = false;
  readonly maxPayload: number;
  /** Times the ring was full and records had to wait in the queue (a stall of every producer). */
  fullEvents = 0;

  constructor(
    private readonly producer: RingProducer,
    private readonly hooks: { onBlocked?: () => void; onUnblocked?: () => void } = {},
  ) {
    this.maxPayload = producer.maxPayload;
  }

  /** Fill of the ring now, for the metrics: bytes not yet consumed, of the ring's size. */
  get fill(): { usedBytes: number; sizeBytes: number } {
    return { usedBytes: this.producer.used, sizeBytes: this.producer.size };
  }

  /** Writes a record whose payload is filled in place by `fill` (no intermediate copy when there is room). */
  writeWith(type: number, slot: number, length: number, fill: (dst: Uint8Array) => void): void {
    if (this.queue.length === 0) {
      const dst = this.producer.reserve(type, slot, length);
      if (dst !== null) {
        try {
          fill(dst);
        } catch (err) {
          this.producer.cancel();
          throw err;
        }
        this.producer.commit();
        return;
      }
    }
    const bytes = new Uint8Array(length);
    fill(bytes);
    this.enqueue({ type, slot, bytes });
  }

  /** Writes a record made of `parts`; bodies larger than the ring's maximum are split into several records. */
  write(type: number, slot: number, payload: Uint8Array = EMPTY): void {
    if (payload.byteLength > this.maxPayload) {
      for (let off = 0; off < payload.byteLength; off += this.maxPayload) {
        this.write(type, slot, payload.subarray(off, Math.min(off + this.maxPayload, payload.byteLength)));
      }
      return;
    }
    if (this.queue.length === 0 && this.producer.tryWrite(type, slot, payload)) return;
    this.enqueue({ type, slot, bytes: payload.slice() });
  }

  private enqueue(q: Queued): void {
    this.queue.push(q);
    if (this.queue.length === 1) {
      this.fullEvents++;
      this.hooks.onBlocked?.();
    }
    if (!this.flushing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const q = this.queue[0]!;
        if (this.producer.tryWrite(q.type, q.slot, q.bytes)) {
          this.queue.shift();
          continue;
        }
        await this.producer.waitForSpace();
      }
    } finally {
      this.flushing = false;
    }
    if (!this.closed) this.hooks.onUnblocked?.();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }
}

const EMPTY = new Uint8Array(0);
