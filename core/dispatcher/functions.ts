// Several functions behind one router: one Dispatcher (fleet, scaler, relay, learned limits) per
// function, all on this thread, sharing the rings and the control port. Ingress resolves each
// request's function (core/routing/route-table.ts) and says which with a ROUTE record before the
// slot's REQ_HEAD; every later record of that slot goes to the same dispatcher. Channels find
// their dispatcher by the instance they belong to. With one function this is a pass-through.
//
// A container worker serves the function its handshake names (x-lambda-dispatch-function), else the first.

import type { WebSocket } from 'ws';
import { decodeRoute, Rec } from '../records.ts';
import type { ChannelAuthority } from './channel-server.ts';
import type { Dispatcher, StatusSnapshot } from './dispatcher.ts';
import { NO_WORKER_FEATURES, type ChannelHello, type WorkerHello } from './state.ts';

export interface RoutedDispatcher {
  /** The name the routes use. */
  name: string;
  dispatcher: Dispatcher;
}

export class FunctionDispatchers implements ChannelAuthority {
  private readonly list: readonly Dispatcher[];
  /** Which dispatcher each slot's records go to, from its last ROUTE record. */
  private readonly bySlot = new Map<number, Dispatcher>();
  /** Instances seen through tokenFor, so that their channels reach their own fleet. */
  private readonly byInstance = new Map<string, Dispatcher>();

  constructor(
    private readonly functions: readonly RoutedDispatcher[],
    private readonly log: (msg: string) => void = () => {},
  ) {
    if (functions.length === 0) throw new Error('FunctionDispatchers needs at least one function');
    this.list = functions.map((f) => f.dispatcher);
  }

  /** Ingress's request ring consumer. */
  onRecord = (type: number, slot: number, payload: Uint8Array): void => {
    if (this.list.length === 1) return this.list[0]!.onRecord(type, slot, payload);
    if (type === Rec.ROUTE) {
      const d = this.list[decodeRoute(payload)];
      if (d === undefined) return this.log(`dispatcher: ROUTE to unknown function ${decodeRoute(payload)} for slot ${slot}`);
      this.bySlot.set(slot, d);
      return;
    }
    (this.bySlot.get(slot) ?? this.list[0]!).onRecord(type, slot, payload);
  };

  tokenFor(instanceId: string): Buffer | null | 'closing' {
    for (const d of this.list) {
      const t = d.tokenFor(instanceId);
      if (t !== null) {
        this.byInstance.set(instanceId, d);
        return t;
      }
    }
    return null;
  }

  accept(instanceId: string, index: number, ws: WebSocket, hello: ChannelHello): void {
    const d = this.byInstance.get(instanceId);
    if (d === undefined) return void ws.terminate();
    d.accept(instanceId, index, ws, hello);
  }

  acceptWorker(workerId: string, index: number, maxConcurrent: number, ws: WebSocket, hello: WorkerHello = NO_WORKER_FEATURES, functionName?: string): void {
    const d = functionName === undefined ? this.list[0]! : this.functions.find((f) => f.name === functionName)?.dispatcher;
    if (d === undefined) return void ws.close(1008, 'unknown function');
    d.acceptWorker(workerId, index, maxConcurrent, ws, hello);
  }

  servesFunction(name: string): boolean {
    return this.functions.some((f) => f.name === name);
  }

  rejected(status: number, why: string): void {
    this.list[0]!.rejected(status, why);
  }

  tick(): void {
    for (const d of this.list) d.tick();
    // Instances come and go; forget those no fleet knows any more.
    for (const [id, d] of this.byInstance) if (d.tokenFor(id) === null) this.byInstance.delete(id);
  }

  ping(): void {
    for (const d of this.list) d.ping();
  }

  prewarm(): void {
    for (const d of this.list) d.prewarm();
  }

  beginShutdown(): void {
    for (const d of this.list) d.beginShutdown();
  }

  refuseAll(): void {
    for (const d of this.list) d.refuseAll();
  }

  terminateAll(): void {
    for (const d of this.list) d.terminateAll();
  }

  get idle(): boolean {
    return this.list.every((d) => d.idle);
  }

  /** With one function, its status; with several, their sum with each function's own under `functions`. */
  status(): StatusSnapshot {
    const each = this.functions.map((f) => ({ name: f.name, status: f.dispatcher.status() }));
    if (each.length === 1) return each[0]!.status;
    const first = each[0]!.status;
    const total = each.slice(1).reduce((sum, f) => addUp(sum, f.status), first);
    // The response ring is one, shared: not a sum.
    return {
      ...total,
      lastDecision: first.lastDecision,
      stalls: { ...total.stalls, responseRingFull: first.stalls.responseRingFull },
      responseRing: first.responseRing,
      functions: each,
    };
  }
}

/** Numbers added, lists joined, records field by field; anything else is the first's. */
function addUp<T>(a: T, b: T): T {
  if (typeof a === 'number' && typeof b === 'number') return (a + b) as T;
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b] as T;
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) out[k] = k in b ? addUp(v, (b as Record<string, unknown>)[k]) : v;
    return out as T;
  }
  return a;
}
