// What the fleet tells the operator as it happens: instances starting, opening, leaving, the
// scaler changing its mind, invokes failing. The dispatcher thread posts each to the main thread,
// which writes it as one structured log line (ingress/telemetry/logger.ts).

import type { InstanceKind } from './state.ts';

/** `function`: which one, when several share the router (functions.ts); absent with one. */
export type LifecycleEvent = (
  | { event: 'instance-started'; instance: string; replaces: string | null }
  | { event: 'instance-opened'; instance: string; kind: InstanceKind; startMs: number; coldStart: boolean }
  | { event: 'instance-draining'; instance: string; reason: string }
  | { event: 'instance-closed'; instance: string; kind: InstanceKind; reason: string; lifeMs: number }
  | { event: 'scaled'; from: number; to: number; reason: string }
  | { event: 'limit'; instance: string; from: number; to: number; reason: string }
  | { event: 'invoke-failed'; instance: string; failure: string; detail: string; nextStartInMs: number }
) & { function?: string };

export type EventSink = (e: LifecycleEvent) => void;

/** The event as one line of text (the log line's message). */
export function describeEvent(e: LifecycleEvent): string {
  return e.function === undefined ? describe(e) : `function ${e.function}: ${describe(e)}`;
}

function describe(e: LifecycleEvent): string {
  switch (e.event) {
    case 'instance-started':
      return `instance ${e.instance} starting${e.replaces !== null ? ` to replace ${e.replaces}` : ''}`;
    case 'instance-opened':
      return `${e.kind === 'worker' ? 'container worker' : 'instance'} ${e.instance} open after ${Math.round(e.startMs)} ms${e.coldStart ? ' (cold start)' : ''}`;
    case 'instance-draining':
      return `instance ${e.instance} draining: ${e.reason}`;
    case 'instance-closed':
      return `instance ${e.instance} closed after ${Math.round(e.lifeMs / 1000)} s: ${e.reason}`;
    case 'scaled':
      return `scaling ${e.from} → ${e.to}: ${e.reason}`;
    case 'limit':
      return `instance ${e.instance} takes ${e.to} at once (was ${e.from}): ${e.reason}`;
    case 'invoke-failed':
      return `instance ${e.instance} failed (${e.failure}: ${e.detail}); next start in ≥ ${Math.round(e.nextStartInMs)} ms`;
  }
}
