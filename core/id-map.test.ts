import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdMap } from './id-map.ts';

test('an IdMap gets, sets, overwrites and deletes like a Map', () => {
  const m = new IdMap<string>();
  assert.equal(m.get(1), undefined);
  m.set(1, 'a').set(2, 'b');
  assert.equal(m.get(1), 'a');
  assert.equal(m.size, 2);
  m.set(1, 'c');
  assert.equal(m.get(1), 'c');
  assert.equal(m.size, 2);
  assert.equal(m.delete(1), true);
  assert.equal(m.delete(1), false);
  assert.equal(m.has(1), false);
  assert.equal(m.get(2), 'b');
  assert.equal(m.size, 1);
});

test('an IdMap takes the whole u32 range and refuses what is not a u32', () => {
  const m = new IdMap<number>();
  for (const id of [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) m.set(id, id);
  for (const id of [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) assert.equal(m.get(id), id);
  assert.throws(() => m.set(-1, 0), RangeError);
  assert.throws(() => m.set(2 ** 32, 0), RangeError);
  assert.throws(() => m.set(1.5, 0), RangeError);
});

test('an IdMap agrees with a Map over random churn, through growth and colliding ids', () => {
  // A seeded generator, so that a failure replays.
  let seed = 42;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const m = new IdMap<number>(2);
  const ref = new Map<number, number>();
  // Ids that share their low bits collide in a small table; consecutive ids are the usual case.
  const pick = () => (rand() < 0.5 ? Math.floor(rand() * 64) * 1024 : Math.floor(rand() * 200));
  for (let step = 0; step < 20_000; step++) {
    const id = pick();
    const r = rand();
    if (r < 0.45) {
      m.set(id, step);
      ref.set(id, step);
    } else if (r < 0.9) {
      assert.equal(m.delete(id), ref.delete(id), `delete ${id} at step ${step}`);
    } else {
      for (const [k, v] of ref) assert.equal(m.get(k), v, `get ${k} at step ${step}`);
    }
    assert.equal(m.size, ref.size);
    assert.equal(m.get(id), ref.get(id));
  }
  assert.deepEqual(m.values().sort((a, b) => a - b), [...ref.values()].sort((a, b) => a - b));
});

test("an IdMap's values() is a copy: deleting while walking it visits every value once", () => {
  const m = new IdMap<number>();
  for (let i = 0; i < 100; i++) m.set(i * 7, i);
  const seen: number[] = [];
  for (const v of m.values()) {
    seen.push(v);
    m.delete(v * 7);
  }
  assert.equal(seen.length, 100);
  assert.equal(new Set(seen).size, 100);
  assert.equal(m.size, 0);
});
