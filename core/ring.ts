// A single-producer / single-consumer byte ring on a SharedArrayBuffer, carrying typed records
// between the router's main thread and its dispatcher thread.
//
// Layout: a 64-byte control block of Int32 words, then the data area (a power of two in size).
// HEAD and TAIL count bytes ever written / consumed, modulo 2^32; their difference is the fill.
// A record is [u32 payload length][u32 type][u32 slot][payload], padded to 4 bytes, and never
// straddles the end of the data area: when it would, the producer leaves a WRAP marker and starts
// again at offset 0, so the consumer can always hand out one contiguous view per record.
//
// Wake-ups are what cost (~30 µs per cross-thread wake), so the consumer drains everything that
// is there per wake and the producer only notifies a consumer that has said it is going to sleep.
//
// Both ends may also live on one thread (the router's single-thread mode): `Atomics.notify` to a
// waiter of the same thread goes through the platform's task queue and an eventfd, so a same-thread
// ring wakes its consumer with a plain promise instead (`sameThread` on both ends).

const HEAD = 0;
const TAIL = 1;
const CONSUMER_SLEEPING = 2;
const PRODUCER_WAITING = 3;
const CONTROL_BYTES = 64;
export const RECORD_HEADER_BYTES = 12;
const WRAP = 0xffffffff;

const align4 = (n: number) => (n + 3) & ~3;

/** Same-thread rings: how the producer wakes the consumer, and the consumer a blocked producer. */
interface LocalWaiters {
  consumer: (() => void) | null;
  producer: (() => void) | null;
}
const localWaiters = new WeakMap<SharedArrayBuffer, LocalWaiters>();
function localOf(sab: SharedArrayBuffer): LocalWaiters {
  let w = localWaiters.get(sab);
  if (w === undefined) localWaiters.set(sab, (w = { consumer: null, producer: null }));
  return w;
}

export interface RingEndOptions {
  /** The other end runs on this thread: wake it with a promise, not Atomics.notify. */
  sameThread?: boolean;
}

export class RingError extends Error {
  override name = 'RingError';
}

/** Allocates the shared memory for a ring whose data area holds `capacity` bytes (a power of two). */
export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < 256 || capacity > 2 ** 30 || (capacity & (capacity - 1)) !== 0) {
    throw new RingError(`ring capacity must be a power of two between 256 and 2^30, got ${capacity}`);
  }
  return new SharedArrayBuffer(CONTROL_BYTES + capacity);
}

class RingView {
  protected readonly ctl: Int32Array;
  protected readonly words: Uint32Array;
  protected readonly bytes: Uint8Array;
  protected readonly capacity: number;
  protected readonly mask: number;
  protected readonly local: LocalWaiters | null;

  constructor(sab: SharedArrayBuffer, opts: RingEndOptions = {}) {
    this.local = opts.sameThread === true ? localOf(sab) : null;
    this.capacity = sab.byteLength - CONTROL_BYTES;
    if (this.capacity < 256 || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new RingError('not a ring buffer: use createRingBuffer()');
    }
    this.mask = this.capacity - 1;
    this.ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.words = new Uint32Array(sab, CONTROL_BYTES);
    this.bytes = new Uint8Array(sab, CONTROL_BYTES);
  }

  /** Size of the data area. */
  get size(): number {
    return this.capacity;
  }

  /** Bytes currently written and not yet consumed (including padding and wrap skips). */
  get used(): number {
    return (Atomics.load(this.ctl, HEAD) - Atomics.load(this.ctl, TAIL)) >>> 0;
  }
}

export class RingProducer extends RingView {
  private head: number;
  private pending = -1;
  /** The largest payload one record may carry; callers split bodies below it. */
  readonly maxPayload: number;

  constructor(sab: SharedArrayBuffer, opts: RingEndOptions = {}) {
    super(sab, opts);
    this.head = Atomics.load(this.ctl, HEAD) >>> 0;
    // A quarter of the ring keeps one big record from starving everything else.
    this.maxPayload = (this.capacity >>> 2) - RECORD_HEADER_BYTES;
  }

  /**
   * Reserves room for one record and returns a view to write its payload into, or null when the
   * ring has no room now (see waitForSpace). Nothing is visible to the consumer until commit().
   */
  reserve(type: number, slot: number, length: number): Uint8Array | null {
    if (this.pending !== -1) throw new RingError('reserve() called twice without commit()');
    if (!Number.isInteger(length) || length < 0) throw new RingError(`record length must be a non-negative integer, got ${length}`);
    if (length > this.maxPayload) throw new RingError(`record of ${length} bytes exceeds the ring's maximum of ${this.maxPayload}`);
    const need = align4(RECORD_HEADER_BYTES + length);
    const tail = Atomics.load(this.ctl, TAIL) >>> 0;
    const free = this.capacity - ((this.head - tail) >>> 0);
    let pos = this.head & this.mask;
    const contiguous = this.capacity - pos;
    const skip = contiguous < need ? contiguous : 0;
    if (free < skip + need) return null;
    if (skip !== 0) {
      this.words[pos >>> 2] = WRAP;
      pos = 0;
    }
    const w = pos >>> 2;
    this.words[w] = length;
    this.words[w + 1] = type;
    this.words[w + 2] = slot;
    this.pending = (this.head + skip + need) >>> 0;
    const start = pos + RECORD_HEADER_BYTES;
    return this.bytes.subarray(start, start + length);
  }

  /** Gives up a reservation (its filler failed); nothing was visible to the consumer. */
  cancel(): void {
    this.pending = -1;
  }

  /**
   * Publishes the reserved record and wakes the consumer only if it is asleep: across threads with
   * Atomics.notify (at once: deferring it to the end of the producer's event-loop turn measured no
   * better, see README "Performance notes"), on one thread with a resolved promise (it drains after
   * the current callback).
   */
  commit(): void {
    if (this.pending === -1) throw new RingError('commit() without reserve()');
    this.head = this.pending;
    this.pending = -1;
    Atomics.store(this.ctl, HEAD, this.head | 0);
    if (this.local !== null) {
      const wake = this.local.consumer;
      if (wake !== null) {
        this.local.consumer = null;
        wake();
      }
    } else if (Atomics.load(this.ctl, CONSUMER_SLEEPING) === 1) {
      Atomics.store(this.ctl, CONSUMER_SLEEPING, 0);
      Atomics.notify(this.ctl, CONSUMER_SLEEPING);
    }
  }

  /** Writes one record made of `parts` concatenated; false when the ring is full. */
  tryWrite(type: number, slot: number, ...parts: Uint8Array[]): boolean {
    let length = 0;
    for (const p of parts) length += p.byteLength;
    const dst = this.reserve(type, slot, length);
    if (dst === null) return false;
    let off = 0;
    for (const p of parts) {
      dst.set(p, off);
      off += p.byteLength;
    }
    this.commit();
    return true;
  }

  /** Free bytes right now (the consumer may free more at any moment). */
  get free(): number {
    return this.capacity - ((this.head - (Atomics.load(this.ctl, TAIL) >>> 0)) >>> 0);
  }

  /**
   * Resolves once the consumer has consumed something since the call. A producer that found the
   * ring full pauses its sources and awaits this before trying again.
   */
  async waitForSpace(): Promise<void> {
    if (this.local !== null) {
      if (((this.head - (Atomics.load(this.ctl, TAIL) >>> 0)) >>> 0) === 0) return;
      const local = this.local;
      return new Promise<void>((resolve) => (local.producer = resolve));
    }
    Atomics.store(this.ctl, PRODUCER_WAITING, 1);
    // The consumer may have drained between our failed reserve and the flag: check after setting it.
    if (((this.head - (Atomics.load(this.ctl, TAIL) >>> 0)) >>> 0) === 0) {
      Atomics.store(this.ctl, PRODUCER_WAITING, 0);
      return;
    }
    const r = Atomics.waitAsync(this.ctl, PRODUCER_WAITING, 1);
    if (r.async) await r.value;
  }
}

export type RecordHandler = (type: number, slot: number, payload: Uint8Array) => void;

export class RingConsumer extends RingView {
  private tail: number;
  private running = false;

  constructor(sab: SharedArrayBuffer, opts: RingEndOptions = {}) {
    super(sab, opts);
    this.tail = Atomics.load(this.ctl, TAIL) >>> 0;
  }

  /**
   * Hands every available record to `onRecord` and returns how many there were. The payload view
   * points into shared memory and is only valid during the call: copy what must outlive it.
   */
  drain(onRecord: RecordHandler): number {
    const head = Atomics.load(this.ctl, HEAD) >>> 0;
    let tail = this.tail;
    let count = 0;
    try {
      while (tail !== head) {
        let pos = tail & this.mask;
        let w = pos >>> 2;
        if (this.words[w] === WRAP || this.capacity - pos < RECORD_HEADER_BYTES) {
          tail = (tail + (this.capacity - pos)) >>> 0;
          pos = 0;
          w = 0;
          if (tail === head) break;
        }
        const length = this.words[w]!;
        const type = this.words[w + 1]!;
        const slot = this.words[w + 2]!;
        const start = pos + RECORD_HEADER_BYTES;
        tail = (tail + align4(RECORD_HEADER_BYTES + length)) >>> 0;
        count++;
        // Advance before the callback so that a throwing handler does not replay the record.
        this.tail = tail;
        onRecord(type, slot, this.bytes.subarray(start, start + length));
      }
    } finally {
      this.tail = tail;
      this.release();
    }
    return count;
  }

  private release(): void {
    Atomics.store(this.ctl, TAIL, this.tail | 0);
    if (this.local !== null) {
      const wake = this.local.producer;
      if (wake !== null) {
        this.local.producer = null;
        wake();
      }
      return;
    }
    if (Atomics.load(this.ctl, PRODUCER_WAITING) === 1) {
      Atomics.store(this.ctl, PRODUCER_WAITING, 0);
      Atomics.notify(this.ctl, PRODUCER_WAITING);
    }
  }

  /**
   * Consumes records until stop(): drains in batches, yields to the event loop between batches,
   * and sleeps on Atomics.waitAsync when the ring is empty. Never blocks the thread.
   */
  async run(onRecord: RecordHandler): Promise<void> {
    if (this.running) throw new RingError('consumer already running');
    this.running = true;
    // On Node 20 a pending Atomics.waitAsync holds no reference: a worker whose only work is this
    // loop would exit at its first sleep. A ref'd timer keeps the thread alive while we consume.
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    try {
      while (this.running) {
        if (this.drain(onRecord) > 0) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        if (this.local !== null) {
          if ((Atomics.load(this.ctl, HEAD) >>> 0) !== this.tail || !this.running) continue;
          const local = this.local;
          await new Promise<void>((resolve) => (local.consumer = resolve));
          continue;
        }
        Atomics.store(this.ctl, CONSUMER_SLEEPING, 1);
        if ((Atomics.load(this.ctl, HEAD) >>> 0) !== this.tail || !this.running) {
          Atomics.store(this.ctl, CONSUMER_SLEEPING, 0);
          continue;
        }
        const r = Atomics.waitAsync(this.ctl, CONSUMER_SLEEPING, 1);
        if (r.async) await r.value;
      }
    } finally {
      clearInterval(keepAlive);
      this.running = false;
    }
  }

  /** Ends run() at its next wake-up, waking it now if it sleeps. */
  stop(): void {
    this.running = false;
    const wake = this.local?.consumer;
    if (wake) {
      this.local!.consumer = null;
      wake();
    }
    Atomics.store(this.ctl, CONSUMER_SLEEPING, 0);
    Atomics.notify(this.ctl, CONSUMER_SLEEPING);
  }
}
