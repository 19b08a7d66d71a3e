// The dispatcher: the fleet (instances and channels, fleet.ts) and the relay (requests, relay.ts)
// joined, and the WebSocket of each channel wired to both. This is the whole surface the
// dispatcher thread (thread.ts) and the tests drive: records in, channels in, a tick, a ping, the
// status, and shutdown.
//
// Everything here runs on the dispatcher thread's event loop; I/O is reached through the ring
// writer, the WebSockets and the invoker, and time through `now()`, so the rules stay testable.

import type { WebSocket } from 'ws';
import type { RingWriter } from '../ring-writer.ts';
import type { ChannelAuthority } from './channel-server.ts';
import { Fleet, type FleetSettings } from './fleet.ts';
import type { Invoke } from './launcher.ts';
import type { EventSink } from './events.ts';
import { Relay, type RelaySettings } from './relay.ts';
import { NO_WORKER_FEATURES, type Channel, type ChannelHello, type WorkerHello } from './state.ts';
import { statusOf, type StatusSnapshot } from './status.ts';

export type { Invoke } from './launcher.ts';
export type { StatusSnapshot } from './status.ts';

export type DispatcherSettings = FleetSettings & RelaySettings;

export class Dispatcher implements ChannelAuthority {
  private readonly fleet: Fleet;
  private readonly relay: Relay;
  private shutdown: 'no' | 'serving-queue' | 'refusing' = 'no';

  constructor(
    o: DispatcherSettings,
    private readonly ring: RingWriter,
    invoke: Invoke,
    private readonly now: () => number = Date.now,
    private readonly log: (msg: string) => void = () => {},
    emit: EventSink = () => {},
  ) {
    this.relay = new Relay(
      o,
      ring,
      {
        pick: (avoid, upgrade) => this.fleet.pick(avoid, upgrade),
        socketsChanged: (inst) => this.fleet.socketsChanged(inst),
        starved: () => this.fleet.starved(),
        arrived: () => this.fleet.arrived(),
        completed: (ms) => this.fleet.completed(ms),
        closeRequested: (inst, reason) => this.fleet.closeRequested(inst, reason),
        loadReported: (inst, load) => this.fleet.loadReported(inst, load),
        retire: (ch) => this.fleet.retire(ch),
        protocolError: (ch, why) => this.fleet.protocolError(ch, why),
      },
      now,
      log,
    );
    this.fleet = new Fleet(o, invoke, this.relay, now, log, emit);
  }

  /** Ingress's request ring consumer. */
  onRecord = (type: number, slot: number, payload: Uint8Array): void => this.relay.onRecord(type, slot, payload);

  // ── the control port's authority over channels ─────────────────────────────────────────────

  tokenFor(instanceId: string): Buffer | null | 'closing' {
    return this.fleet.tokenFor(instanceId);
  }

  rejected(status: number, why: string): void {
    this.log(`channel refused: ${status} ${why}`);
  }

  accept(instanceId: string, index: number, ws: WebSocket, hello?: ChannelHello): void {
    const ch = this.fleet.open(instanceId, index, ws, hello);
    if (ch !== null) this.wire(ch);
  }

  acceptWorker(workerId: string, index: number, maxConcurrent: number, ws: WebSocket, hello: WorkerHello = NO_WORKER_FEATURES): void {
    const ch = this.fleet.openWorker(workerId, index, maxConcurrent, ws, hello);
    if (ch !== null) this.wire(ch);
  }

  private wire(ch: Channel): void {
    const { ws } = ch;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      ch.alive = true;
      if (!isBinary) return this.fleet.protocolError(ch, 'text message on a channel');
      try {
        this.relay.onFrame(ch, data);
      } catch (err) {
        // Whatever a peer sends costs at most its own channel, never the thread.
        this.fleet.protocolError(ch, err instanceof Error ? err.message : String(err));
      }
    });
    ws.on('pong', () => {
      ch.alive = true;
    });
    ws.on('close', () => {
      this.relay.channelLost(ch);
      this.fleet.closed(ch);
      this.relay.pump();
    });
    ws.on('error', (err) => this.log(`channel ${ch.instance.id}/${ch.index} error: ${err.message}`));
    this.relay.pump();
  }

  // ── periodic work ──────────────────────────────────────────────────────────────────────────

  /** Queue timeouts, lifecycle timeouts, hopeless requests, scaling; called every ~100 ms. */
  tick(): void {
    const now = this.now();
    this.relay.requeueRetries();
    this.relay.expire(now);
    this.fleet.tick(now);
    // A request whose queue deadline comes before any capacity can: 503 now, not 504 later; every
    // waiting request when the function keeps failing to start: 502 now.
    if (this.relay.pendingCount > 0) {
      if (this.fleet.failingToStart()) this.relay.rejectBefore(Infinity, 'LD_FUNCTION_START_FAILED');
      else {
        const at = this.fleet.nextCapacityAt(now);
        if (at !== null) this.relay.rejectBefore(at);
      }
    }
    this.fleet.scale();
    this.settleShutdown();
  }

  ping(): void {
    this.fleet.ping();
  }

  prewarm(): void {
    this.fleet.prewarm();
  }

  status(): StatusSnapshot {
    return statusOf(this.fleet, this.relay, this.ring);
  }

  // ── shutdown ───────────────────────────────────────────────────────────────────────────────

  /**
   * The router is draining (SIGTERM): start nothing more, but serve what already waits while some
   * instance is open or starting; those requests were accepted by ingress before the drain, and a
   * request never sent to the app is as safe to serve now as it was a second ago (the queue timeout
   * still bounds its wait). Once nothing waits, or nothing is left that could serve it, refuseAll():
   * the rest gets 503 LD_SHUTTING_DOWN and every instance gets GOAWAY as its channels go idle.
   */
  beginShutdown(): void {
    if (this.shutdown !== 'no') return;
    this.shutdown = 'serving-queue';
    this.fleet.stopStarting();
    this.settleShutdown();
  }

  /** Refuses new work, answers what waits (503), and asks every instance to finish and leave. */
  refuseAll(): void {
    this.shutdown = 'refusing';
    this.relay.beginShutdown();
    this.fleet.beginShutdown();
  }

  private settleShutdown(): void {
    if (this.shutdown !== 'serving-queue') return;
    if (this.relay.pendingCount > 0 && this.canServe()) return;
    this.refuseAll();
  }

  /** Some instance is open (or still starting) and so may yet take a waiting request. */
  private canServe(): boolean {
    for (const inst of this.fleet.all()) if (inst.state === 'open' || inst.state === 'starting') return true;
    return false;
  }

  get idle(): boolean {
    return this.fleet.empty;
  }

  /** Ends every channel now (the last step of shutdown). */
  terminateAll(): void {
    this.fleet.terminateAll();
  }
}
