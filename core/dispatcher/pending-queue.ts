// The FIFO of requests waiting for a channel. Removal from the middle (a client that gives up) is
// rare: the entry is found, tombstoned, and skipped when it reaches the front.

export interface Queueable {
  queued: boolean;
}

export class PendingQueue<T extends Queueable> {
  private items: (T | null)[] = [];
  private head = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    item.queued = true;
    this.items.push(item);
    this.count++;
  }

  /** Puts an item back at the front (a request retried after its instance died). */
  unshift(item: T): void {
    item.queued = true;
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
    this.count++;
  }

  /** The oldest waiting item, without removing it. */
  peek(): T | undefined {
    this.skipRemoved();
    return this.items[this.head] ?? undefined;
  }

  shift(): T | undefined {
    this.skipRemoved();
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = null;
    item.queued = false;
    this.count--;
    this.compact();
    return item;
  }

  remove(item: T): boolean {
    if (!item.queued) return false;
    const i = this.items.indexOf(item, this.head);
    if (i < 0) return false;
    this.items[i] = null;
    item.queued = false;
    this.count--;
    if (this.count === 0) {
      this.items = [];
      this.head = 0;
    }
    return true;
  }

  private skipRemoved(): void {
    while (this.head < this.items.length && this.items[this.head] === null) this.head++;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
