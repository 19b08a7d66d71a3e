// Requests lost with their channel before any answer, and whether each goes again. Pure rules over
// the dispatcher's state and a clock; the relay acts on the verdicts.
//
// A lost request is held, never sent again at once: channels of environments that die together
// close within moments of each other, and a retry sent at once would go to the next one to go. It
// is decided at the next tick, or when an invoke ends, by what is known of its instance's fate:
//  - a channel the router cut for silence (missed pings) is the host's fault: it goes again;
//  - a function error ending the invoke means the environment itself failed, quite possibly
//    because of this very request: sending it again would cost another environment (and the
//    client another wait), so it is answered instead;
//  - otherwise (the invoke returned, or runs on: a network blip) it goes again, once the outcome
//    is known or OUTCOME_WAIT_MS has passed without one.

import type { Exchange, Instance } from './state.ts';

/** Attempts after the first. When environments die together the first can land on the next to go. */
export const MAX_RETRIES = 2;
/** How long a lost request waits to learn how its instance's invoke ended. */
export const OUTCOME_WAIT_MS = 1000;

export type ReplayVerdict = 'wait' | 'replay' | 'refuse';

/** Safe to send again at all: idempotent, bodiless, nothing came back, attempts left. */
export function mayReplay(ex: Exchange): boolean {
  return ex.state === 'sent' && ex.retryable && ex.retries < MAX_RETRIES;
}

export function verdict(lostOn: Instance, lostSilent: boolean, lostAt: number, now: number): ReplayVerdict {
  if (lostSilent || lostOn.kind === 'worker') return 'replay';
  const outcome = lostOn.outcome;
  if (outcome === null) return now - lostAt < OUTCOME_WAIT_MS ? 'wait' : 'replay';
  return outcome.kind === 'function-error' ? 'refuse' : 'replay';
}

export class Replays {
  private held: Exchange[] = [];

  get size(): number {
    return this.held.length;
  }

  hold(ex: Exchange, lostOn: Instance, silent: boolean, now: number): void {
    ex.retries++;
    ex.failedOn.add(lostOn);
    ex.lostOn = lostOn;
    ex.lostAt = now;
    ex.lostSilent = silent;
    ex.state = 'pending';
    this.held.push(ex);
  }

  /** The client left while its request was held. */
  remove(ex: Exchange): boolean {
    const before = this.held.length;
    this.held = this.held.filter((r) => r !== ex);
    return this.held.length < before;
  }

  /** Takes out every request whose verdict is in, oldest first. */
  decide(now: number): { replay: Exchange[]; refuse: Exchange[] } {
    const replay: Exchange[] = [];
    const refuse: Exchange[] = [];
    const waiting: Exchange[] = [];
    for (const ex of this.held) {
      const v = verdict(ex.lostOn!, ex.lostSilent, ex.lostAt, now);
      (v === 'wait' ? waiting : v === 'replay' ? replay : refuse).push(ex);
    }
    this.held = waiting;
    return { replay, refuse };
  }

  /** Everything held, verdict or not (shutdown). */
  takeAll(): Exchange[] {
    const all = this.held;
    this.held = [];
    return all;
  }
}
