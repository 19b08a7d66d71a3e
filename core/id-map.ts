// A table from request ids (u32) to what serves them, for the per-request tables on a hot path
// (the requests in flight on an extension's channel).
//
// Why not a Map: under request churn — entries added and removed every few microseconds, the size
// rising and falling — V8 rehashes a Map's table as it grows and shrinks, and each obsolete table
// keeps a link to its successor and the entries it held. Once one of those tables has been
// promoted, every scavenge treats it as a root: each later table, and every finished request it
// still names, survives and is promoted in turn. On the Lambda side at saturation that was ~2 MB
// of finished requests surviving each scavenge (3–7 ms pauses, a mark-compact every ~350 ms) where
// this table leaves ~2 KB (docs/ARCHITECTURE.md, "Garbage under churn"). Open addressing over arrays
// that grow and never shrink leaves no such chain, and a deleted slot forgets its value at once.

const EMPTY = -1;

export class IdMap<V> {
  /** Each slot's id, EMPTY when free (ids are u32, so -1 is never one). */
  private ids: Float64Array;
  private vals: (V | undefined)[];
  private mask: number;
  private count = 0;

  constructor(capacity = 16) {
    let cap = 8;
    while (cap < capacity * 2) cap *= 2;
    this.ids = new Float64Array(cap).fill(EMPTY);
    this.vals = new Array<V | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    for (let i = this.slot(id); ; i = (i + 1) & this.mask) {
      const at = this.ids[i]!;
      if (at === id) return this.vals[i];
      if (at === EMPTY) return undefined;
    }
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Sets `id` to `value` (not undefined: that is what an absent id reads as). */
  set(id: number, value: V): this {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) throw new RangeError(`an id is a u32, got ${id}`);
    for (let i = this.slot(id); ; i = (i + 1) & this.mask) {
      const at = this.ids[i]!;
      if (at === id) {
        this.vals[i] = value;
        return this;
      }
      if (at === EMPTY) {
        this.ids[i] = id;
        this.vals[i] = value;
        // At most half full, so that probes stay short.
        if (++this.count * 2 > this.ids.length) this.grow();
        return this;
      }
    }
  }

  delete(id: number): boolean {
    const mask = this.mask;
    let i = this.slot(id);
    for (; ; i = (i + 1) & mask) {
      const at = this.ids[i]!;
      if (at === EMPTY) return false;
      if (at === id) break;
    }
    // Backward-shift deletion: the entries after the hole that probed past it move back into it,
    // so that no tombstone is left and every lookup still stops at the first empty slot.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const at = this.ids[j]!;
      if (at === EMPTY) break;
      const home = this.slot(at);
      // Movable when its home is not cyclically within (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.ids[hole] = at;
        this.vals[hole] = this.vals[j];
        hole = j;
      }
    }
    this.ids[hole] = EMPTY;
    this.vals[hole] = undefined;
    this.count--;
    return true;
  }

  /** The values now, in no particular order: a copy, so that the caller may delete as it goes. */
  values(): V[] {
    const out: V[] = [];
    for (let i = 0; i < this.vals.length; i++) if (this.ids[i] !== EMPTY) out.push(this.vals[i]!);
    return out;
  }

  private slot(id: number): number {
    // Fibonacci hashing: consecutive ids (the usual case) spread over the table.
    return (Math.imul(id, 0x9e3779b1) >>> 0) & this.mask;
  }

  private grow(): void {
    const ids = this.ids;
    const vals = this.vals;
    this.ids = new Float64Array(ids.length * 2).fill(EMPTY);
    this.vals = new Array<V | undefined>(ids.length * 2).fill(undefined);
    this.mask = this.ids.length - 1;
    this.count = 0;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== EMPTY) this.set(ids[i]!, vals[i]!);
  }
}
