// Slot ids name a client request on both rings. Ids are reused (lowest free first keeps the
// table dense); a slot is only freed after its terminal record came back, so the dispatcher can
// never confuse two requests that shared an id.

export class SlotTable<T> {
  private readonly items: (T | undefined)[] = [];
  private readonly free: number[] = [];
  private used = 0;

  get size(): number {
    return this.used;
  }

  /** One past the highest slot id ever handed out. */
  get capacity(): number {
    return this.items.length;
  }

  add(item: T): number {
    const slot = this.free.length > 0 ? this.free.pop()! : this.items.length;
    this.items[slot] = item;
    this.used++;
    return slot;
  }

  get(slot: number): T | undefined {
    return this.items[slot];
  }

  delete(slot: number): void {
    if (this.items[slot] === undefined) return;
    this.items[slot] = undefined;
    this.free.push(slot);
    this.used--;
  }

  *values(): IterableIterator<T> {
    for (const item of this.items) if (item !== undefined) yield item;
  }
}
