// The request slots of an invocation or a worker: channels take one per request and give it back,
// so that requests at once never exceed maxConcurrent whatever the number of channels (spares
// included). Counts the requests taken, which the invocation reports and the worker's status shows.

export class Capacity {
  private used = 0;
  private taken = 0;

  constructor(readonly max: number) {}

  /** Requests being served now. */
  get inFlight(): number {
    return this.used;
  }

  /** Requests accepted since the start. */
  get requests(): number {
    return this.taken;
  }

  /** Takes a slot (and counts the request); false when all are taken. */
  acquire(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    this.taken++;
    return true;
  }

  release(): void {
    this.used--;
  }
}
