// How the ring's two ends wake each other (core/ring.ts): across threads a sleeping consumer is
// notified by the commit; on one thread (the router's single-thread mode) both ends wake each other
// with promises, never Atomics.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RingConsumer, RingProducer, createRingBuffer } from './ring.ts';

/** The control word the consumer sets before it sleeps (ring.ts layout: HEAD, TAIL, CONSUMER_SLEEPING). */
const CONSUMER_SLEEPING = 2;
const turn = () => new Promise<void>((r) => setImmediate(r));
const bytes = (n: number) => new Uint8Array([n, n, n]);

describe('cross-thread wake-ups', () => {
  test('a consumer that said it sleeps is woken by the commit; one that is awake is not notified', () => {
    const sab = createRingBuffer(1024);
    const ctl = new Int32Array(sab, 0, 16);
    const producer = new RingProducer(sab);
    assert.ok(producer.tryWrite(1, 0, bytes(0)));
    assert.equal(Atomics.load(ctl, CONSUMER_SLEEPING), 0);
    Atomics.store(ctl, CONSUMER_SLEEPING, 1); // as RingConsumer.run() leaves it before waitAsync
    assert.ok(producer.tryWrite(1, 1, bytes(1)));
    assert.equal(Atomics.load(ctl, CONSUMER_SLEEPING), 0, 'the flag is cleared with the notify');
    const seen: number[] = [];
    assert.equal(new RingConsumer(sab).drain((_t, slot) => seen.push(slot)), 2);
    assert.deepEqual(seen, [0, 1]);
  });
});

describe('same-thread rings', () => {
  test('run() sleeps without Atomics and wakes for records committed later, in order', async () => {
    const sab = createRingBuffer(1024);
    const ctl = new Int32Array(sab, 0, 16);
    const producer = new RingProducer(sab, { sameThread: true });
    const consumer = new RingConsumer(sab, { sameThread: true });
    const seen: number[] = [];
    let batches = 0;
    let inBatch = false;
    const running = consumer.run((_t, slot) => {
      if (!inBatch) {
        inBatch = true;
        batches++;
        queueMicrotask(() => (inBatch = false));
      }
      seen.push(slot);
    });
    await turn();
    assert.equal(Atomics.load(ctl, CONSUMER_SLEEPING), 0, 'a same-thread consumer never flags itself for Atomics.notify');
    for (let i = 0; i < 5; i++) producer.tryWrite(1, i, bytes(i));
    assert.deepEqual(seen, [], 'delivered after the producer\'s callback, never inside it');
    for (let i = 0; i < 50 && seen.length < 5; i++) await turn();
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(batches, 1, 'one drain for the records of one turn');
    consumer.stop();
    await running;
  });

  test('a producer waiting for space is released by the same-thread consumer\'s drain', async () => {
    const sab = createRingBuffer(256);
    const producer = new RingProducer(sab, { sameThread: true });
    const consumer = new RingConsumer(sab, { sameThread: true });
    let written = 0;
    while (producer.tryWrite(1, written, new Uint8Array(48))) written++;
    assert.ok(written > 0);
    let released = false;
    const waiting = producer.waitForSpace().then(() => (released = true));
    await turn();
    assert.equal(released, false, 'still full');
    let drained = 0;
    const running = consumer.run(() => drained++);
    await waiting;
    assert.ok(drained >= written);
    assert.ok(producer.tryWrite(1, 99, new Uint8Array(48)));
    consumer.stop();
    await running;
  });

  test('stop() ends a same-thread run() that sleeps', async () => {
    const sab = createRingBuffer(256);
    const consumer = new RingConsumer(sab, { sameThread: true });
    const running = consumer.run(() => {});
    await turn();
    consumer.stop();
    await running;
  });
});
