// Start pacing and reconnect pacing: a token bucket bounds a rate, and consecutive failures push
// the next attempt out exponentially (with full jitter, capped), so a function that cannot reach the
// router costs a handful of invokes a minute and a worker that lost its router does not hammer it.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class Backoff {
  private failures = 0;
  private notBefore = 0;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Records a failure and returns the delay before the next start may happen. */
  failed(now: number): number {
    this.failures++;
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.failures - 1, 30));
    const delay = ceiling / 2 + this.random() * (ceiling / 2);
    this.notBefore = now + delay;
    return delay;
  }

  succeeded(): void {
    this.failures = 0;
    this.notBefore = 0;
  }

  allows(now: number): boolean {
    return now >= this.notBefore;
  }

  /** The earliest time the next start may happen. */
  get nextStartAt(): number {
    return this.notBefore;
  }
}
