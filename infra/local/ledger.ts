// Billing as Lambda does it: each invocation's duration rounded up to the next millisecond, times
// the configured memory, gives GB-seconds. Since 2025 the init phase of an on-demand invocation is
// billed too, so a cold invocation's duration here includes its init.

export interface LedgerSnapshot {
  invocations: number;
  billedMs: number;
  gbSeconds: number;
  coldStarts: number;
  environmentsCreated: number;
  errors: number;
  throttles: number;
}

export interface InvocationCharge {
  billedMs: number;
  gbSeconds: number;
}

export function chargeFor(durationMs: number, memoryMb: number): InvocationCharge {
  const billedMs = Math.max(1, Math.ceil(durationMs));
  // One division keeps the result exact for round inputs (e.g. 13 ms at 512 MB = 0.0065).
  return { billedMs, gbSeconds: (billedMs * memoryMb) / (1000 * 1024) };
}

export function emptyLedger(): LedgerSnapshot {
  return { invocations: 0, billedMs: 0, gbSeconds: 0, coldStarts: 0, environmentsCreated: 0, errors: 0, throttles: 0 };
}

/** Adds one invocation to the ledger (mutates and returns it). */
export function recordInvocation(
  ledger: LedgerSnapshot,
  inv: { durationMs: number; memoryMb: number; cold: boolean; error: boolean },
): LedgerSnapshot {
  const charge = chargeFor(inv.durationMs, inv.memoryMb);
  ledger.invocations += 1;
  ledger.billedMs += charge.billedMs;
  ledger.gbSeconds += charge.gbSeconds;
  if (inv.cold) ledger.coldStarts += 1;
  if (inv.error) ledger.errors += 1;
  return ledger;
}
