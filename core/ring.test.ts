// Tests for core/ring.ts: the SPSC byte ring on a SharedArrayBuffer (docs/ARCHITECTURE.md, "The rings").
//
// Single-thread tests pin the record format, wrap-around, full-ring and error behaviour; a seeded
// model test runs thousands of random operations against an array FIFO; cross-thread tests run a
// real RingConsumer in a worker (core/fixtures/ring-consumer-worker.ts) with backpressure.
//
// Seeds: set RING_TEST_SEED=<n> to replay the random seed printed by a failing run.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { RECORD_HEADER_BYTES, RingConsumer, RingError, RingProducer, createRingBuffer } from './ring.ts';
import { Rec, decodeCredit, decodeResponseError, encodeCredit, encodeResponseError } from './records.ts';
import {
  FNV_OFFSET,
  biasedLength,
  checksumRecord,
  fillPayload,
  mulberry32,
  randInt,
  recordSlot,
  recordType,
} from './fixtures/ring-records.ts';
import { seedFromEnv, withSeed as withSeedEnv } from './fixtures/prng.ts';
import type { ConsumerWorkerData, FromWorker, ToWorker } from './fixtures/ring-records.ts';

// ---------------------------------------------------------------------------------------------
// helpers

/** Bytes a record of `len` payload bytes takes in the ring: header + payload, padded to 4. */
const needOf = (len: number): number => (RECORD_HEADER_BYTES + len + 3) & ~3;

interface TestRing {
  sab: SharedArrayBuffer;
  capacity: number;
  /** Byte offset of the data area inside the SharedArrayBuffer. */
  dataStart: number;
  p: RingProducer;
  c: RingConsumer;
}

/**
 * A fresh ring. `start` presets the HEAD and TAIL counters (the first two Int32 words of the
 * control block, per ring.ts) so that tests can begin mid-ring or just below 2^32.
 */
function makeRing(capacity: number, start = 0): TestRing {
  const sab = createRingBuffer(capacity);
  if (start !== 0) {
    const ctl = new Int32Array(sab, 0, 2);
    ctl[0] = start | 0;
    ctl[1] = start | 0;
  }
  return { sab, capacity, dataStart: sab.byteLength - capacity, p: new RingProducer(sab), c: new RingConsumer(sab) };
}

interface Got {
  type: number;
  slot: number;
  bytes: Uint8Array;
  /** Offset of the payload view inside the data area. */
  at: number;
  /** The view really points into the ring's SharedArrayBuffer. */
  shared: boolean;
}

function drainAll(r: TestRing): Got[] {
  const out: Got[] = [];
  r.c.drain((type, slot, payload) => {
    out.push({ type, slot, bytes: Uint8Array.from(payload), at: payload.byteOffset - r.dataStart, shared: payload.buffer === r.sab });
  });
  return out;
}

function bytes(n: number, seed: number): Uint8Array {
  const rnd = mulberry32(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/**
 * Writes and drains filler records on an empty ring so that the producer's next record would
 * start at data offset `to`, coming from offset `from` (no wrap in between).
 */
function advance(r: TestRing, from: number, to: number): void {
  assert.equal(r.c.used, 0, 'advance() needs an empty ring');
  assert.ok(to >= from && (to - from) % 4 === 0 && (to - from === 0 || to - from >= RECORD_HEADER_BYTES));
  const maxNeed = needOf(r.p.maxPayload);
  let remaining = to - from;
  while (remaining > 0) {
    const need = remaining <= maxNeed ? remaining : Math.min(maxNeed, remaining - RECORD_HEADER_BYTES);
    assert.ok(r.p.tryWrite(Rec.CREDIT, 0, new Uint8Array(need - RECORD_HEADER_BYTES)), 'filler record');
    remaining -= need;
  }
  drainAll(r);
  assert.equal(r.c.used, 0);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with `p`, or rejects naming `what` when `p` takes longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(2);
  }
}

/** Tracks whether a promise has settled, without awaiting it. */
function track(p: Promise<unknown>): { settled: () => boolean } {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done };
}

const SEED_ENV = 'RING_TEST_SEED';
const randomSeed = (): number => seedFromEnv(SEED_ENV);
const withSeed = <T>(seed: number, fn: () => T): T => withSeedEnv(seed, SEED_ENV, fn);

// ---------------------------------------------------------------------------------------------
// createRingBuffer / construction

describe('createRingBuffer', () => {
  test('accepts powers of two from 256 to 2^30 and sizes the buffer to hold them', () => {
    for (const cap of [256, 512, 1024, 4096, 1 << 16]) {
      const sab = createRingBuffer(cap);
      assert.ok(sab instanceof SharedArrayBuffer);
      assert.ok(sab.byteLength > cap, `${cap}: buffer must hold a control block as well`);
      const p = new RingProducer(sab);
      assert.equal(p.free, cap);
      assert.equal(p.used, 0);
      assert.equal(p.maxPayload, cap / 4 - RECORD_HEADER_BYTES);
    }
  });

  test('rejects sizes that are not a power of two, or out of range, with RingError', () => {
    for (const bad of [0, 1, 2, 128, 255, 257, 300, 1000, 1023, 1025, 3 * 1024, -256, 1.5, 256.5, NaN, Infinity, 2 ** 31]) {
      assert.throws(() => createRingBuffer(bad), RingError, `capacity ${bad}`);
    }
  });

  test('producer and consumer refuse a SharedArrayBuffer that is not a ring', () => {
    for (const n of [0, 64, 100, 64 + 300]) {
      assert.throws(() => new RingProducer(new SharedArrayBuffer(n)), RingError, `producer on ${n} bytes`);
      assert.throws(() => new RingConsumer(new SharedArrayBuffer(n)), RingError, `consumer on ${n} bytes`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// single thread

describe('ring, single thread', () => {
  test('records of every type and of several slots round-trip with exact bytes, in order', () => {
    const r = makeRing(4096);
    const types = Object.values(Rec);
    assert.equal(types.length, 11);
    const slots = [0, 1, 2, 255, 65535, 0x7fffffff, 0x80000000, 0xffffffff];
    const lengths = [0, 1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 100, r.p.maxPayload - 1, r.p.maxPayload];
    const sent: { type: number; slot: number; bytes: Uint8Array }[] = [];
    let k = 0;
    for (const type of types) {
      for (const len of lengths) {
        const slot = slots[k % slots.length]!;
        const b = bytes(len, ++k);
        // Alternate the two write paths.
        if (k % 2 === 0) {
          assert.ok(r.p.tryWrite(type, slot, b));
        } else {
          const dst = r.p.reserve(type, slot, len);
          assert.ok(dst !== null);
          assert.equal(dst.byteLength, len);
          dst.set(b);
          r.p.commit();
        }
        sent.push({ type, slot, bytes: b });
        // Drain in small batches so the ring keeps turning over.
        if (k % 3 === 0) {
          for (const g of drainAll(r)) {
            const want = sent.shift();
            assert.ok(want !== undefined, 'record out of nowhere');
            assert.deepEqual({ type: g.type, slot: g.slot, bytes: g.bytes }, want);
            assert.ok(g.shared, 'payload must be a view into the ring (no copy)');
          }
        }
      }
    }
    for (const g of drainAll(r)) {
      const want = sent.shift();
      assert.deepEqual({ type: g.type, slot: g.slot, bytes: g.bytes }, want);
    }
    assert.equal(sent.length, 0, 'every record came out');
    assert.equal(r.c.used, 0);
    assert.equal(r.p.free, r.capacity);
  });

  test('drain() returns the number of records and hands each out once', () => {
    const r = makeRing(1024);
    for (let i = 0; i < 10; i++) assert.ok(r.p.tryWrite(Rec.REQ_BODY, i, new Uint8Array([i])));
    const slots: number[] = [];
    assert.equal(r.c.drain((_t, slot) => slots.push(slot)), 10);
    assert.deepEqual(slots, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(r.c.drain(() => assert.fail('nothing left to drain')), 0);
  });

  test('tryWrite() concatenates its parts, including empty parts and no parts', () => {
    const r = makeRing(1024);
    assert.ok(r.p.tryWrite(Rec.REQ_HEAD, 3, new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3]), new Uint8Array([4, 5, 6])));
    assert.ok(r.p.tryWrite(Rec.REQ_END, 3));
    assert.ok(r.p.tryWrite(Rec.REQ_END, 4, new Uint8Array(0)));
    // A part that is a view with a non-zero offset into a larger buffer.
    const big = Uint8Array.from([9, 9, 7, 8, 9, 9]);
    assert.ok(r.p.tryWrite(Rec.REQ_BODY, 5, big.subarray(2, 4)));
    const got = drainAll(r).map((g) => ({ type: g.type, slot: g.slot, bytes: Array.from(g.bytes) }));
    assert.deepEqual(got, [
      { type: Rec.REQ_HEAD, slot: 3, bytes: [1, 2, 3, 4, 5, 6] },
      { type: Rec.REQ_END, slot: 3, bytes: [] },
      { type: Rec.REQ_END, slot: 4, bytes: [] },
      { type: Rec.REQ_BODY, slot: 5, bytes: [7, 8] },
    ]);
  });

  test('the record codecs of records.ts survive the ring (decoded straight from the shared view)', () => {
    const r = makeRing(1024);
    advance(r, 0, 500); // payload views at an odd place in the SAB
    assert.ok(r.p.tryWrite(Rec.CREDIT, 9, encodeCredit(0xfedcba98)));
    assert.ok(r.p.tryWrite(Rec.RES_ERROR, 10, encodeResponseError('LD_INSTANCE_LOST')));
    const out: unknown[] = [];
    r.c.drain((type, slot, payload) => {
      if (type === Rec.CREDIT) out.push({ slot, credit: decodeCredit(payload) });
      else out.push({ slot, ...decodeResponseError(payload) });
    });
    assert.deepEqual(out, [
      { slot: 9, credit: 0xfedcba98 },
      { slot: 10, code: 'LD_INSTANCE_LOST' },
    ]);
  });

  test('nothing is visible to the consumer before commit()', () => {
    const r = makeRing(1024);
    const dst = r.p.reserve(Rec.REQ_BODY, 1, 4);
    assert.ok(dst !== null);
    dst.set([1, 2, 3, 4]);
    assert.equal(r.c.drain(() => assert.fail('uncommitted record was delivered')), 0);
    assert.equal(r.c.used, 0);
    r.p.commit();
    assert.deepEqual(
      drainAll(r).map((g) => Array.from(g.bytes)),
      [[1, 2, 3, 4]],
    );
  });

  test('used and free account for header and padding', () => {
    const r = makeRing(1024);
    for (const len of [0, 1, 2, 3, 4, 5]) {
      const before = r.p.used;
      assert.ok(r.p.tryWrite(1, 1, new Uint8Array(len)));
      assert.equal(r.p.used - before, needOf(len), `record of ${len} bytes`);
      assert.equal(r.p.free + r.p.used, r.capacity);
      assert.equal(r.c.used, r.p.used, 'both ends see the same fill');
    }
    drainAll(r);
    assert.equal(r.p.used, 0);
    assert.equal(r.p.free, r.capacity);
  });

  describe('wrap-around', () => {
    test('a record that does not fit before the end wraps to offset 0 and arrives whole and contiguous', () => {
      const r = makeRing(1024);
      advance(r, 0, 1024 - 40); // 40 bytes left before the end
      const b = bytes(100, 42); // needs 112
      assert.ok(r.p.tryWrite(Rec.RES_BODY, 77, b));
      // The skipped tail of the data area counts as used until the consumer passes it.
      assert.equal(r.p.used, 40 + needOf(100));
      const next = bytes(5, 43);
      assert.ok(r.p.tryWrite(Rec.RES_BODY, 78, next));
      const got = drainAll(r);
      assert.equal(got.length, 2);
      assert.deepEqual(got[0], { type: Rec.RES_BODY, slot: 77, bytes: b, at: RECORD_HEADER_BYTES, shared: true });
      assert.deepEqual(got[1], { type: Rec.RES_BODY, slot: 78, bytes: next, at: needOf(100) + RECORD_HEADER_BYTES, shared: true });
      assert.equal(r.c.used, 0);
    });

    test('a record that fits exactly before the end does not wrap; the next one starts at 0', () => {
      const r = makeRing(1024);
      advance(r, 0, 1024 - needOf(100));
      const b = bytes(100, 1);
      assert.ok(r.p.tryWrite(2, 5, b));
      assert.equal(r.p.used, needOf(100), 'no skip');
      const c = bytes(3, 2);
      assert.ok(r.p.tryWrite(2, 6, c));
      const got = drainAll(r);
      assert.deepEqual(
        got.map((g) => [g.slot, g.at, Array.from(g.bytes)]),
        [
          [5, 1024 - 100, Array.from(b)],
          [6, RECORD_HEADER_BYTES, Array.from(c)],
        ],
      );
    });

    for (const left of [4, 8]) {
      test(`a gap of ${left} bytes (smaller than a record header) is skipped`, () => {
        const r = makeRing(1024);
        advance(r, 0, 1024 - left);
        assert.ok(r.p.tryWrite(3, 1)); // empty payload: 12 bytes
        assert.ok(r.p.tryWrite(3, 2, Uint8Array.of(0xab)));
        assert.equal(r.p.used, left + 12 + 16);
        const got = drainAll(r);
        assert.deepEqual(
          got.map((g) => [g.slot, g.at, Array.from(g.bytes)]),
          [
            [1, RECORD_HEADER_BYTES, []],
            [2, 12 + RECORD_HEADER_BYTES, [0xab]],
          ],
        );
        assert.equal(r.c.used, 0);
      });
    }

    test('a wrapping record needs room for the skipped gap too; it must not overwrite unread records', () => {
      // Unread data from offset 100 to 1000; a 112-byte record at 1000 must wrap to 0, skipping
      // 24 bytes. free = 124 ≥ 112, but 24 + 112 = 136 > 124: it would overwrite the unread record
      // at offset 100, so the ring must refuse it.
      const r = makeRing(1024);
      advance(r, 0, 100);
      const pending: { slot: number; bytes: Uint8Array }[] = [];
      // 900 bytes of unread records: 3 × 256 + 132.
      for (const len of [244, 244, 244, 120]) {
        const b = bytes(len, len + pending.length);
        assert.ok(r.p.tryWrite(1, pending.length, b));
        pending.push({ slot: pending.length, bytes: b });
      }
      assert.equal(r.p.used, 900);
      assert.equal(r.p.free, 124);
      const big = bytes(100, 999);
      assert.equal(r.p.tryWrite(1, 99, big), false, 'the wrap gap must count against free space');
      assert.equal(r.p.reserve(1, 99, 100), null);
      // One byte-exact size smaller (108 bytes = 96 payload + 12): 24 + 108 = 132 > 124, still refused.
      assert.equal(r.p.tryWrite(1, 99, new Uint8Array(96)), false);
      // A record that fits in the 24 bytes before the end needs no wrap and is accepted.
      assert.ok(r.p.tryWrite(1, 50, new Uint8Array(12)));
      pending.push({ slot: 50, bytes: new Uint8Array(12) });
      // The unread records are intact.
      const got = drainAll(r);
      assert.deepEqual(
        got.map((g) => ({ slot: g.slot, bytes: g.bytes })),
        pending,
      );
      assert.ok(r.p.tryWrite(1, 99, big), 'fits once drained');
      assert.deepEqual(drainAll(r)[0]?.bytes, big);
    });

    test('the boundary: a wrapping record is accepted when free space equals gap + record exactly', () => {
      const r = makeRing(1024);
      advance(r, 0, 112);
      // Unread records from 112 to 1000 (888 bytes): free = 136 = 24 (gap) + 112 (record).
      for (const len of [244, 244, 244, 108]) assert.ok(r.p.tryWrite(1, len, new Uint8Array(len)));
      assert.equal(r.p.used, 888);
      const big = bytes(100, 5);
      assert.ok(r.p.tryWrite(1, 7, big));
      assert.equal(r.p.used, 1024);
      assert.equal(r.p.free, 0);
      const got = drainAll(r);
      assert.equal(got.length, 5);
      assert.deepEqual(got[4], { type: 1, slot: 7, bytes: big, at: RECORD_HEADER_BYTES, shared: true });
    });

    test('HEAD/TAIL counters wrap past 2^32 without losing or corrupting records', () => {
      const cap = 1024;
      const r = makeRing(cap, 2 ** 32 - 2 * cap + 200);
      let written = 0;
      let read = 0;
      for (let i = 0; i < 200; i++) {
        const len = (i * 37) % (r.p.maxPayload + 1);
        const b = new Uint8Array(len);
        fillPayload(i, b);
        if (!r.p.tryWrite(recordType(i), recordSlot(i), b)) {
          r.c.drain((type, slot, payload) => {
            const want = new Uint8Array(payload.length);
            fillPayload(read, want);
            assert.deepEqual([type, slot, payload.length], [recordType(read), recordSlot(read), (read * 37) % (r.p.maxPayload + 1)]);
            assert.deepEqual(Uint8Array.from(payload), want);
            read++;
          });
          assert.ok(r.p.tryWrite(recordType(i), recordSlot(i), b), 'write after drain');
        }
        written++;
        assert.ok(r.p.used <= cap);
      }
      r.c.drain(() => read++);
      assert.equal(read, written);
      assert.equal(r.p.used, 0);
    });
  });

  describe('full ring', () => {
    test('tryWrite() returns false and reserve() null when full; both succeed again after a drain', () => {
      const r = makeRing(256);
      const max = r.p.maxPayload; // 52: each record needs 64 bytes
      assert.equal(needOf(max), 64);
      for (let i = 0; i < 4; i++) assert.ok(r.p.tryWrite(Rec.REQ_BODY, i, bytes(max, i)), `record ${i}`);
      assert.equal(r.p.free, 0);
      assert.equal(r.p.used, 256);
      assert.equal(r.p.tryWrite(Rec.REQ_END, 9), false, 'even an empty record does not fit');
      assert.equal(r.p.reserve(Rec.REQ_END, 9, 0), null);
      // A null reserve leaves no reservation behind: reserving again is not "twice without commit".
      assert.equal(r.p.reserve(Rec.REQ_END, 9, 0), null);
      assert.throws(() => r.p.commit(), RingError, 'nothing reserved');
      assert.equal(r.p.used, 256, 'failed writes change nothing');
      const got = drainAll(r);
      assert.deepEqual(
        got.map((g) => ({ slot: g.slot, bytes: g.bytes })),
        [0, 1, 2, 3].map((i) => ({ slot: i, bytes: bytes(max, i) })),
      );
      assert.ok(r.p.tryWrite(Rec.REQ_END, 9));
      const dst = r.p.reserve(Rec.REQ_BODY, 10, max);
      assert.ok(dst !== null);
      r.p.commit();
      assert.deepEqual(
        drainAll(r).map((g) => g.slot),
        [9, 10],
      );
    });

    test('a partial drain frees just enough for the next record', () => {
      const r = makeRing(256);
      for (let i = 0; i < 4; i++) assert.ok(r.p.tryWrite(1, i, new Uint8Array(r.p.maxPayload)));
      assert.equal(r.p.tryWrite(1, 4, new Uint8Array(r.p.maxPayload)), false);
      // Consume exactly one record: a handler that throws stops the drain after that record.
      const stop = new Error('stop');
      assert.throws(() => r.c.drain(() => {
        throw stop;
      }), (e) => e === stop);
      assert.equal(r.p.free, 64);
      assert.ok(r.p.tryWrite(1, 4, new Uint8Array(r.p.maxPayload)));
      assert.equal(r.p.tryWrite(1, 5), false);
      assert.deepEqual(
        drainAll(r).map((g) => g.slot),
        [1, 2, 3, 4],
      );
    });

    test('a payload view stays intact for the whole callback, whatever the producer tries meanwhile', () => {
      const r = makeRing(256);
      for (let i = 0; i < 4; i++) assert.ok(r.p.tryWrite(1, i, bytes(r.p.maxPayload, 100 + i)));
      let n = 0;
      r.c.drain((_type, slot, payload) => {
        const before = Uint8Array.from(payload);
        // The producer (same thread here, another thread in production) grabs all the space it can.
        let guard = 0;
        while (r.p.tryWrite(2, 1000 + guard, new Uint8Array(r.p.maxPayload).fill(0xee)) && guard < 16) guard++;
        assert.deepEqual(Uint8Array.from(payload), before, `record ${slot} was overwritten during its callback`);
        assert.deepEqual(before, bytes(r.p.maxPayload, 100 + slot));
        n++;
      });
      assert.equal(n, 4);
    });
  });

  describe('errors', () => {
    test('reserve()/tryWrite() beyond maxPayload throw RingError; exactly maxPayload is accepted', () => {
      for (const cap of [256, 1024, 4096]) {
        const r = makeRing(cap);
        const max = r.p.maxPayload;
        assert.throws(() => r.p.reserve(1, 1, max + 1), RingError);
        assert.throws(() => r.p.reserve(1, 1, cap), RingError);
        assert.throws(() => r.p.reserve(1, 1, 2 ** 40), RingError);
        assert.throws(() => r.p.tryWrite(1, 1, new Uint8Array(max + 1)), RingError);
        assert.throws(() => r.p.tryWrite(1, 1, new Uint8Array(max), new Uint8Array(1)), RingError, 'parts add up');
        assert.equal(r.p.used, 0, 'a refused record leaves nothing behind');
        // The ring is still usable: the throws left no reservation.
        assert.ok(r.p.tryWrite(1, 1, new Uint8Array(max)));
        assert.equal(drainAll(r)[0]?.bytes.length, max);
      }
    });

    test('reserve() twice without commit() throws RingError; the first reservation survives', () => {
      const r = makeRing(1024);
      const dst = r.p.reserve(1, 1, 3);
      assert.ok(dst !== null);
      dst.set([7, 8, 9]);
      assert.throws(() => r.p.reserve(1, 2, 3), RingError);
      assert.throws(() => r.p.tryWrite(1, 2, new Uint8Array(3)), RingError, 'tryWrite reserves too');
      r.p.commit();
      assert.throws(() => r.p.commit(), RingError, 'commit() twice');
      assert.deepEqual(
        drainAll(r).map((g) => [g.slot, Array.from(g.bytes)]),
        [[1, [7, 8, 9]]],
      );
    });

    test('commit() without reserve() throws RingError', () => {
      const r = makeRing(256);
      assert.throws(() => r.p.commit(), RingError);
      assert.equal(r.c.drain(() => assert.fail('nothing was written')), 0);
    });

    // BUG (see report): reserve() validates only `length > maxPayload`. A negative length stores
    // 0xFFFFFFFF (the WRAP marker) or another huge length in the header: the consumer then skips
    // past HEAD and spins forever in drain(). NaN reserves 0 bytes and the commit silently drops
    // the record; a fractional length is truncated. All should be a RingError at reserve().
    test('reserve() rejects a negative, NaN or fractional length with RingError', () => {
      for (const bad of [-1, -4, -12, -13, NaN, 2.5]) {
        const r = makeRing(1024); // fresh ring: a wrongly accepted reservation stays pending, never drained
        assert.throws(() => r.p.reserve(1, 1, bad), RingError, `length ${bad}`);
      }
    });

    test('a handler that throws stops the drain after that record; the rest comes next time', () => {
      const r = makeRing(1024);
      for (let i = 0; i < 5; i++) assert.ok(r.p.tryWrite(1, i));
      const seen: number[] = [];
      assert.throws(
        () =>
          r.c.drain((_t, slot) => {
            seen.push(slot);
            if (slot === 1) throw new Error('handler failed');
          }),
        /handler failed/,
      );
      assert.deepEqual(seen, [0, 1]);
      assert.equal(r.c.used, needOf(0) * 3, 'the failed record is consumed, not replayed');
      assert.deepEqual(
        drainAll(r).map((g) => g.slot),
        [2, 3, 4],
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// randomized model test

interface ModelRecord {
  type: number;
  slot: number;
  bytes: Uint8Array;
}

interface ModelStats {
  writes: number;
  fails: number;
  reads: number;
  wraps: number;
}

/**
 * Random interleavings of writes (sizes 0..maxPayload, biased small), partial drains and full
 * drains, checked against an array FIFO. Space is checked in an implementation-independent form:
 * - used/free agree between both ends and never exceed the capacity;
 * - used ≥ the sum of the queued records' sizes, plus at most one wrap gap (< one record);
 * - a write may only fail when even the worst-case wrap gap explains it (used + 2·need - 4 > capacity),
 *   never on an empty ring; a write grows `used` by its size plus at most one gap (< its size);
 * - after a failure and a full drain, the same write succeeds.
 */
function runModel(capacity: number, start: number, seed: number, ops: number): ModelStats {
  const rnd = mulberry32(seed);
  const r = makeRing(capacity, start);
  const max = r.p.maxPayload;
  const maxNeed = needOf(max);
  const fifo: ModelRecord[] = [];
  let fifoHead = 0;
  let queuedBytes = 0;
  const stats: ModelStats = { writes: 0, fails: 0, reads: 0, wraps: 0 };
  const STOP = new Error('partial drain');

  const checkSpace = (where: string) => {
    const used = r.c.used;
    assert.equal(r.p.used, used, `${where}: both ends agree on used`);
    assert.equal(r.p.free + used, capacity, `${where}: free + used = capacity`);
    assert.ok(used <= capacity, `${where}: used ${used} > capacity`);
    assert.ok(used >= queuedBytes, `${where}: used ${used} < queued ${queuedBytes}`);
    assert.ok(used <= queuedBytes + maxNeed - 4, `${where}: used ${used} > queued ${queuedBytes} + one gap`);
    if (queuedBytes === 0) assert.equal(used, 0, `${where}: an empty ring has nothing in use`);
  };

  const onRecord = (type: number, slot: number, payload: Uint8Array) => {
    const want = fifo[fifoHead];
    assert.ok(want !== undefined, `record #${stats.reads} delivered but the model is empty`);
    assert.equal(type, want.type, `record #${stats.reads}: type`);
    assert.equal(slot, want.slot, `record #${stats.reads}: slot`);
    assert.equal(payload.byteLength, want.bytes.byteLength, `record #${stats.reads}: length`);
    assert.deepEqual(Uint8Array.from(payload), want.bytes, `record #${stats.reads}: bytes`);
    const at = payload.byteOffset - r.dataStart;
    assert.ok(at >= RECORD_HEADER_BYTES && at + payload.byteLength <= capacity, `record #${stats.reads}: view outside the data area`);
    if (at === RECORD_HEADER_BYTES) stats.wraps++;
    fifo[fifoHead++] = undefined as unknown as ModelRecord; // let it go
    queuedBytes -= needOf(want.bytes.byteLength);
    stats.reads++;
  };

  const drainUpTo = (limit: number) => {
    let n = 0;
    const before = stats.reads;
    try {
      const count = r.c.drain((type, slot, payload) => {
        onRecord(type, slot, payload);
        if (++n >= limit) throw STOP;
      });
      assert.equal(count, stats.reads - before, 'drain() count');
      assert.equal(fifoHead, fifo.length, 'a drain that returns normally empties the ring');
    } catch (err) {
      if (err !== STOP) throw err;
      assert.equal(n, limit);
    }
  };

  const write = (rec: ModelRecord): boolean => {
    const len = rec.bytes.byteLength;
    const need = needOf(len);
    const usedBefore = r.c.used;
    let ok: boolean;
    if (rnd() < 0.5) {
      const dst = r.p.reserve(rec.type, rec.slot, len);
      ok = dst !== null;
      if (dst !== null) {
        assert.equal(dst.byteLength, len);
        dst.set(rec.bytes);
        r.p.commit();
      }
    } else {
      // Split into random parts, some empty.
      const parts: Uint8Array[] = [];
      let off = 0;
      while (off < len || rnd() < 0.2) {
        const n = randInt(rnd, 0, len - off);
        parts.push(rec.bytes.subarray(off, off + n));
        off += n;
        if (parts.length > 6) {
          parts.push(rec.bytes.subarray(off));
          off = len;
        }
      }
      ok = r.p.tryWrite(rec.type, rec.slot, ...parts);
    }
    const usedAfter = r.c.used;
    if (ok) {
      stats.writes++;
      fifo.push(rec);
      queuedBytes += need;
      const grew = usedAfter - usedBefore;
      assert.ok(grew === need || (grew >= need + 4 && grew <= 2 * need - 4), `write of ${need}: used grew by ${grew}`);
    } else {
      stats.fails++;
      assert.equal(usedAfter, usedBefore, 'a failed write changes nothing');
      assert.ok(queuedBytes > 0, 'a write must never fail on an empty ring');
      assert.ok(usedBefore + 2 * need - 4 > capacity, `write of ${need} refused with used=${usedBefore} of ${capacity}`);
    }
    checkSpace(ok ? 'after write' : 'after failed write');
    return ok;
  };

  // Alternate producer-heavy phases (the ring fills up and refuses writes) with consumer-heavy ones.
  let phaseLeft = 0;
  let writeShare = 0.5;
  let drainMax = 4;
  for (let op = 0; op < ops; op++) {
    if (phaseLeft-- <= 0) {
      phaseLeft = randInt(rnd, 20, 400);
      const producerHeavy = rnd() < 0.5;
      writeShare = producerHeavy ? 0.9 : 0.4;
      drainMax = producerHeavy ? 2 : 12;
    }
    const x = rnd();
    if (x < writeShare) {
      const len = biasedLength(rnd, max);
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = (rnd() * 256) | 0;
      const rec = { type: randInt(rnd, 1, 9), slot: (rnd() * 2 ** 32) >>> 0, bytes: b };
      if (!write(rec) && rnd() < 0.5) {
        drainUpTo(Infinity);
        checkSpace('after full drain');
        assert.ok(write(rec), 'a write that failed must succeed once the ring is drained empty');
      }
    } else if (x < 0.98) {
      drainUpTo(randInt(rnd, 1, drainMax));
      checkSpace('after partial drain');
    } else {
      drainUpTo(Infinity);
      checkSpace('after full drain');
    }
  }
  drainUpTo(Infinity);
  assert.equal(stats.reads, stats.writes, 'every record came out exactly once');
  assert.equal(r.c.used, 0);
  return stats;
}

describe('ring, randomized model test', () => {
  const seeds = [1, 2, 3, 0xc0ffee, randomSeed()];
  for (const capacity of [1024, 4096]) {
    // Start at 0, and mid-ring just below 2^32 so the counters wrap during the run.
    for (const start of [0, 2 ** 32 - 5 * capacity + 500]) {
      test(`capacity ${capacity}, counters from ${start}: ${seeds.length} seeds × 20k ops`, () => {
        let wraps = 0;
        let fails = 0;
        for (const seed of seeds) {
          const s = withSeed(seed, () => runModel(capacity, start, seed, 20_000));
          wraps += s.wraps;
          fails += s.fails;
          assert.ok(s.writes > 5000, `seed ${seed}: too few writes (${s.writes}) to mean anything`);
        }
        // The run must have exercised what it claims to.
        assert.ok(wraps > 50, `only ${wraps} wrap-arounds`);
        assert.ok(fails > 50, `only ${fails} full-ring refusals`);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// run() / stop() / waitForSpace() on one thread

describe('consumer run() and stop(), producer waitForSpace(), one thread', () => {
  test('run() delivers records written while it sleeps, and stop() ends it', async () => {
    const r = makeRing(1024);
    const slots: number[] = [];
    const running = r.c.run((_t, slot) => slots.push(slot));
    const state = track(running);
    await sleep(30); // asleep on an empty ring
    assert.ok(r.p.tryWrite(1, 1));
    await waitUntil(() => slots.length === 1, 2000, 'first record');
    await sleep(30);
    assert.ok(r.p.tryWrite(1, 2));
    assert.ok(r.p.tryWrite(1, 3));
    await waitUntil(() => slots.length === 3, 2000, 'next records');
    assert.deepEqual(slots, [1, 2, 3]);
    assert.equal(state.settled(), false, 'run() keeps going until stop()');
    r.c.stop();
    await within(running, 2000, 'run() after stop()');
  });

  test('stop() wakes a run() that sleeps on an empty ring', async () => {
    const r = makeRing(256);
    const running = r.c.run(() => assert.fail('no records were written'));
    await sleep(50);
    const t0 = performance.now();
    r.c.stop();
    await within(running, 1000, 'run() after stop()');
    assert.ok(performance.now() - t0 < 500, 'woken, not timed out');
  });

  test('stop() called right after run() (same tick) ends it', async () => {
    const r = makeRing(256);
    const running = r.c.run(() => {});
    r.c.stop();
    await within(running, 1000, 'run() after stop()');
  });

  test('a second concurrent run() is refused; after stop() run() can start again and resumes where it was', async () => {
    const r = makeRing(1024);
    const slots: number[] = [];
    const first = r.c.run((_t, slot) => slots.push(slot));
    await assert.rejects(r.c.run(() => {}), RingError);
    assert.ok(r.p.tryWrite(1, 1));
    await waitUntil(() => slots.length === 1, 2000, 'record 1');
    r.c.stop();
    await within(first, 1000, 'first run()');
    assert.ok(r.p.tryWrite(1, 2));
    const second = r.c.run((_t, slot) => slots.push(slot));
    await waitUntil(() => slots.length === 2, 2000, 'record 2');
    r.c.stop();
    await within(second, 1000, 'second run()');
    assert.deepEqual(slots, [1, 2]);
  });

  test('stop() from inside the handler ends run() without losing records', async () => {
    const r = makeRing(1024);
    for (let i = 0; i < 10; i++) assert.ok(r.p.tryWrite(1, i));
    const slots: number[] = [];
    const running = r.c.run((_t, slot) => {
      slots.push(slot);
      if (slot === 3) r.c.stop();
    });
    await within(running, 1000, 'run() after stop() in handler');
    assert.ok(slots.length >= 4);
    // Whatever run() did not hand out is still there, in order.
    r.c.drain((_t, slot) => slots.push(slot));
    assert.deepEqual(slots, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  // BUG (see report): run() sets `running = true` and only stop() clears it. When the handler
  // throws, run() rejects but the consumer stays "running" forever: every later run() rejects with
  // RingError('consumer already running') and the ring can never be consumed again.
  test('run() can be started again after its handler threw', async () => {
    const r = makeRing(1024);
    assert.ok(r.p.tryWrite(1, 1));
    await assert.rejects(
      r.c.run(() => {
        throw new Error('handler failed');
      }),
      /handler failed/,
    );
    assert.ok(r.p.tryWrite(1, 2));
    const slots: number[] = [];
    let secondError: unknown = null;
    const second = r.c.run((_t, slot) => slots.push(slot)).catch((e: unknown) => {
      secondError = e;
    });
    await waitUntil(() => slots.length === 1 || secondError !== null, 2000, 'second run()');
    assert.equal(secondError, null, `second run() failed: ${String(secondError)}`);
    assert.deepEqual(slots, [2], 'the record after the failed one is delivered, the failed one not replayed');
    r.c.stop();
    await within(second, 1000, 'second run() after stop()');
  });

  test('waitForSpace() resolves at once when the ring is empty', async () => {
    const r = makeRing(256);
    const w = track(r.p.waitForSpace());
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.ok(w.settled());
  });

  test('waitForSpace() resolves at once when the consumer drained between the failed write and the call', async () => {
    const r = makeRing(256);
    for (let i = 0; i < 4; i++) assert.ok(r.p.tryWrite(1, i, new Uint8Array(r.p.maxPayload)));
    assert.equal(r.p.tryWrite(1, 4), false);
    drainAll(r);
    await within(r.p.waitForSpace(), 500, 'waitForSpace() on a drained ring');
    assert.ok(r.p.tryWrite(1, 4));
  });

  test('a producer that filled the ring waits in waitForSpace() until the consumer drains', async () => {
    const r = makeRing(256);
    for (let i = 0; i < 4; i++) assert.ok(r.p.tryWrite(1, i, new Uint8Array(r.p.maxPayload)));
    assert.equal(r.p.tryWrite(1, 4, new Uint8Array(r.p.maxPayload)), false);
    const waiting = r.p.waitForSpace();
    const w = track(waiting);
    await sleep(50);
    assert.equal(w.settled(), false, 'nothing was consumed: the producer must keep waiting');
    // Consume one record only: that is "consumed something".
    const stop = new Error('stop');
    assert.throws(() => r.c.drain(() => {
      throw stop;
    }), (e) => e === stop);
    await within(waiting, 1000, 'waitForSpace() after a drain');
    assert.ok(r.p.tryWrite(1, 4, new Uint8Array(r.p.maxPayload)));
    // And once more, released by a consumer in run().
    assert.equal(r.p.tryWrite(1, 5), false);
    const again = r.p.waitForSpace();
    const slots: number[] = [];
    setTimeout(() => void r.c.run((_t, slot) => slots.push(slot)), 30);
    await within(again, 1000, 'waitForSpace() released by run()');
    await waitUntil(() => slots.length === 4, 1000, 'run() drains');
    assert.deepEqual(slots, [1, 2, 3, 4]);
    r.c.stop();
  });
});

// ---------------------------------------------------------------------------------------------
// across threads: a real worker consumer

const WORKER_URL = new URL('./fixtures/ring-consumer-worker.mjs', import.meta.url);

class ConsumerWorker {
  readonly worker: Worker;
  readonly messages: FromWorker[] = [];
  exitCode: number | null = null;
  error: Error | null = null;

  constructor(data: ConsumerWorkerData) {
    this.worker = new Worker(WORKER_URL, { workerData: data });
    this.worker.on('message', (m: FromWorker) => this.messages.push(m));
    this.worker.on('error', (e: Error) => (this.error = e));
    this.worker.on('exit', (code: number) => (this.exitCode = code));
  }

  send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private problem(): string | null {
    if (this.error !== null) return `worker error: ${this.error.stack ?? this.error.message}`;
    const fatal = this.messages.find((m) => m.kind === 'fatal');
    if (fatal !== undefined && fatal.kind === 'fatal') return `worker run() failed: ${fatal.message}`;
    return null;
  }

  /** Waits for a message matching `pred`; fails early when the worker errs or exits. */
  async waitFor<K extends FromWorker['kind']>(
    kind: K,
    pred: (m: Extract<FromWorker, { kind: K }>) => boolean,
    ms: number,
    what: string,
  ): Promise<Extract<FromWorker, { kind: K }>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.messages.find((m): m is Extract<FromWorker, { kind: K }> => m.kind === kind && pred(m as Extract<FromWorker, { kind: K }>));
      if (hit !== undefined) return hit;
      const problem = this.problem();
      if (problem !== null) throw new Error(`${what}: ${problem}`);
      if (this.exitCode !== null) throw new Error(`${what}: the worker exited (code ${this.exitCode}) first`);
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
      await sleep(2);
    }
  }

  async waitExit(ms: number): Promise<number> {
    await waitUntil(() => this.exitCode !== null, ms, 'worker exit');
    return this.exitCode!;
  }

  async close(): Promise<void> {
    if (this.exitCode === null) await this.worker.terminate();
  }
}

/** Writes generated record `i` (see fixtures/ring-records.ts), waiting for space as needed. */
async function writeGenerated(p: RingProducer, i: number, len: number, scratch: Uint8Array, viaReserve: boolean): Promise<number> {
  const type = recordType(i);
  const slot = recordSlot(i);
  let waits = 0;
  for (;;) {
    if (viaReserve) {
      const dst = p.reserve(type, slot, len);
      if (dst !== null) {
        fillPayload(i, dst);
        p.commit();
        return waits;
      }
    } else {
      const payload = scratch.subarray(0, len);
      fillPayload(i, payload);
      if (p.tryWrite(type, slot, payload)) return waits;
    }
    waits++;
    await within(p.waitForSpace(), 10_000, `waitForSpace() before record ${i} (lost wake-up?)`);
  }
}

function expectedChecksum(lengths: number[]): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < lengths.length; i++) {
    const b = new Uint8Array(lengths[i]!);
    fillPayload(i, b);
    h = checksumRecord(h, recordType(i), recordSlot(i), b);
  }
  return h;
}

describe('ring across threads (worker consumer)', { timeout: 120_000 }, () => {
  // The small ring turns over ~10k times and fills constantly; the large one carries records up to
  // 16 KiB (fewer of them: the bytes are what cost there).
  for (const [capacity, N] of [[4096, 200_000], [1 << 16, 50_000]] as const) {
    test(`${N / 1000}k records of mixed sizes through a ${capacity}-byte ring with backpressure`, async () => {
      const seed = randomSeed();
      const sab = createRingBuffer(capacity);
      const p = new RingProducer(sab);
      const cw = new ConsumerWorker({ sab, keepAlive: true, notifyEach: false, startImmediately: true });
      try {
        await cw.waitFor('running', () => true, 10_000, 'worker start');
        const rnd = mulberry32(seed);
        const scratch = new Uint8Array(p.maxPayload);
        const lengths: number[] = [];
        let waits = 0;
        for (let i = 0; i < N; i++) {
          const len = biasedLength(rnd, p.maxPayload);
          lengths.push(len);
          waits += await writeGenerated(p, i, len, scratch, i % 3 === 0);
        }
        await waitUntil(() => p.used === 0 || cw.exitCode !== null, 20_000, 'consumer to empty the ring');
        cw.send({ cmd: 'stop' });
        const done = await cw.waitFor('done', () => true, 5000, 'worker report');
        withSeed(seed, () => {
          assert.equal(done.firstError, null);
          assert.equal(done.errors, 0);
          assert.equal(done.count, N);
          assert.equal(done.checksum, expectedChecksum(lengths));
          if (capacity === 4096) assert.ok(waits > 0, 'the ring never filled: backpressure was not exercised');
        });
        assert.equal(await cw.waitExit(5000), 0, 'the worker exits cleanly once run() has ended');
      } finally {
        await cw.close();
      }
    });
  }

  test('a consumer worker waiting on an empty ring stays alive (parentPort ref) and gets a late record', async () => {
    const sab = createRingBuffer(1024);
    const p = new RingProducer(sab);
    const cw = new ConsumerWorker({ sab, keepAlive: true, notifyEach: true, startImmediately: true });
    try {
      await cw.waitFor('running', () => true, 10_000, 'worker start');
      const scratch = new Uint8Array(p.maxPayload);
      await writeGenerated(p, 0, 10, scratch, false);
      await cw.waitFor('record', (m) => m.count === 1, 2000, 'record 0');
      await sleep(300); // the consumer sleeps in Atomics.waitAsync
      assert.equal(cw.exitCode, null, 'the worker exited while waiting on an empty ring');
      await writeGenerated(p, 1, 20, scratch, true);
      const rec = await cw.waitFor('record', (m) => m.count === 2, 2000, 'record 1 after a 300 ms pause');
      assert.deepEqual(rec, { kind: 'record', count: 2, type: recordType(1), slot: recordSlot(1), length: 20 });
      cw.send({ cmd: 'stop' });
      const done = await cw.waitFor('done', () => true, 2000, 'worker report');
      assert.equal(done.errors, 0, done.firstError ?? '');
      assert.equal(done.checksum, expectedChecksum([10, 20]));
      assert.equal(await cw.waitExit(5000), 0);
    } finally {
      await cw.close();
    }
  });

  // On Node 20 a pending Atomics.waitAsync holds no ref: RingConsumer.run() must keep its thread
  // alive itself, or a worker that only consumes exits at its first sleep and loses every record.
  test(
    'run() alone keeps a worker alive while it waits (no parentPort listener)',
    async () => {
      const sab = createRingBuffer(1024);
      const p = new RingProducer(sab);
      const scratch = new Uint8Array(p.maxPayload);
      await writeGenerated(p, 0, 10, scratch, false);
      const cw = new ConsumerWorker({ sab, keepAlive: false, notifyEach: true, startImmediately: true });
      try {
        await cw.waitFor('record', (m) => m.count === 1, 10_000, 'record 0');
        await sleep(300);
        await writeGenerated(p, 1, 20, scratch, false);
        await cw.waitFor('record', (m) => m.count === 2, 2000, 'record 1 after a 300 ms pause');
      } finally {
        await cw.close();
      }
    },
  );

  test('stop() ends run() in a worker that sleeps on an empty ring', async () => {
    const sab = createRingBuffer(1024);
    const cw = new ConsumerWorker({ sab, keepAlive: true, notifyEach: false, startImmediately: true });
    try {
      await cw.waitFor('running', () => true, 10_000, 'worker start');
      await sleep(100);
      assert.equal(cw.exitCode, null);
      cw.send({ cmd: 'stop' });
      const done = await cw.waitFor('done', () => true, 2000, 'run() to end after stop()');
      assert.equal(done.count, 0);
      assert.equal(await cw.waitExit(5000), 0);
    } finally {
      await cw.close();
    }
  });

  test('a producer that filled the ring waits in waitForSpace() and is released when the worker drains', async () => {
    const sab = createRingBuffer(1024);
    const p = new RingProducer(sab);
    // The consumer does not start until told to.
    const cw = new ConsumerWorker({ sab, keepAlive: true, notifyEach: false, startImmediately: false });
    try {
      await cw.waitFor('ready', () => true, 10_000, 'worker ready');
      const scratch = new Uint8Array(p.maxPayload);
      const lengths: number[] = [];
      const tryNext = (): boolean => {
        const i = lengths.length;
        const len = 50 + (i % 7) * 13;
        const payload = scratch.subarray(0, len);
        fillPayload(i, payload);
        if (!p.tryWrite(recordType(i), recordSlot(i), payload)) return false;
        lengths.push(len);
        return true;
      };
      while (tryNext());
      assert.ok(lengths.length >= 6, 'ring filled');
      const filled = lengths.length;
      const waiting = p.waitForSpace();
      const w = track(waiting);
      await sleep(150);
      assert.equal(w.settled(), false, 'released with no consumer running');
      assert.equal(tryNext(), false, 'still full');
      cw.send({ cmd: 'start' });
      await within(waiting, 5000, 'waitForSpace() released by the worker');
      while (!tryNext()) await within(p.waitForSpace(), 5000, 'waitForSpace()');
      assert.equal(lengths.length, filled + 1);
      await waitUntil(() => p.used === 0, 5000, 'worker drains');
      cw.send({ cmd: 'stop' });
      const done = await cw.waitFor('done', () => true, 2000, 'worker report');
      assert.equal(done.errors, 0, done.firstError ?? '');
      assert.equal(done.count, filled + 1);
      assert.equal(done.checksum, expectedChecksum(lengths));
    } finally {
      await cw.close();
    }
  });
});
