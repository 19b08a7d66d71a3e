// Starts the dispatcher — in its own thread, or on this (main) thread when a second thread would
// add hops and no parallelism (dispatcherOnMainThread) — and speaks its control protocol
// (status, shutdown, logs) over a MessagePort either way.

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { hostDispatcher } from '../core/dispatcher/host.ts';
import { cpuBudget } from './cpu-budget.ts';
import type { RouterConfig } from '../core/config.ts';
import type { StatusSnapshot } from '../core/dispatcher/status.ts';
import type { LifecycleEvent } from '../core/dispatcher/events.ts';
import type { ToIngress, ToDispatcher, DispatcherInit, ThreadStats } from '../core/dispatcher/messages.ts';

export interface ThreadStatus {
  status: StatusSnapshot;
  /** The dispatcher thread's own heap and event loop. */
  thread: ThreadStats;
}

/** Where the thread's diagnostics and lifecycle events go (the router's logger). */
export interface ThreadLog {
  line(level: 'info' | 'warn' | 'error', line: string): void;
  event(e: LifecycleEvent): void;
}

export const DEFAULT_THREAD_FILE = new URL('../core/dispatcher/thread-dev.mjs', import.meta.url);

/**
 * `auto` runs the dispatcher on the main thread when the process may use one CPU or less (its
 * affinity or its cgroup quota, cpu-budget.ts): there the worker's two ring hops per request cost
 * wake-ups and buy no parallelism.
 */
export function dispatcherOnMainThread(mode: RouterConfig['dispatcherThread'], cpus = cpuBudget()): boolean {
  return mode === 'main' || (mode === 'auto' && cpus <= 1);
}

/** The dispatcher's side as this class drives it: a Worker, or the main thread's end of a MessageChannel. */
interface Link {
  postMessage(m: ToDispatcher): void;
  on(event: 'message', listener: (m: ToIngress) => void): unknown;
  off(event: 'message', listener: (m: ToIngress) => void): unknown;
}

export class DispatcherThread {
  private readonly thread: Link;
  private readonly worker: Worker | null;
  private nextId = 1;
  private readonly waiting = new Map<number, (s: ThreadStatus) => void>();
  private stopped: Promise<void>;
  /** On the main thread: the dispatcher's start (it rejects when the start fails). */
  private readonly hosted: Promise<void> | null = null;
  controlPort = 0;
  /** The control port certificate's pin; null when it serves plain ws://. */
  certSha256: string | null = null;
  alive = true;

  private constructor(init: DispatcherInit, file: URL | string | null, log: ThreadLog, onExit: (code: number) => void) {
    let exited!: (code: number) => void;
    this.stopped = new Promise((resolve) => {
      exited = (code) => {
        if (!this.alive) return;
        this.alive = false;
        onExit(code);
        resolve();
      };
    });
    if (file === null) {
      // On this thread: the dispatcher's end of the channel closes when it has stopped.
      const { port1, port2 } = new MessageChannel();
      this.worker = null;
      this.thread = port1 as MessagePort & Link;
      port1.once('close', () => exited(0));
      // A start that fails leaves nothing listening on the channel to keep the process alive.
      this.hosted = hostDispatcher(port2, { ...init, sameThread: true }).catch((err: unknown) => {
        port2.close();
        throw err;
      });
    } else {
      this.worker = new Worker(file, { workerData: init, name: 'lambda-dispatch-dispatcher' });
      this.thread = this.worker;
      this.worker.on('exit', exited);
      this.worker.on('error', (err) => log.line('error', `dispatcher thread crashed: ${err.stack ?? err.message}`));
    }
    this.thread.on('message', (m: ToIngress) => {
      if (m.type === 'log') log.line(m.level, m.line);
      else if (m.type === 'event') log.event(m.event);
      else if (m.type === 'status') {
        this.waiting.get(m.id)?.({ status: m.status, thread: m.thread });
        this.waiting.delete(m.id);
      }
    });
  }

  /** `mainThread`: host the dispatcher here instead of in a worker (see dispatcherOnMainThread). */
  static start(
    init: DispatcherInit,
    opts: { file?: URL | string; mainThread?: boolean; log: ThreadLog; onExit: (code: number) => void },
  ): Promise<DispatcherThread> {
    const t = new DispatcherThread(init, opts.mainThread === true ? null : (opts.file ?? DEFAULT_THREAD_FILE), opts.log, opts.onExit);
    return new Promise((resolve, reject) => {
      const onMessage = (m: ToIngress) => {
        if (m.type !== 'ready') return;
        t.thread.off('message', onMessage);
        t.worker?.off('error', reject);
        t.controlPort = m.controlPort;
        t.certSha256 = m.certSha256;
        resolve(t);
      };
      t.thread.on('message', onMessage);
      t.worker?.once('error', reject);
      t.hosted?.catch(reject);
    });
  }

  status(): Promise<ThreadStatus> {
    if (!this.alive) return Promise.reject(new Error('dispatcher thread is not running'));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.post({ type: 'status', id });
    });
  }

  /** SIGTERM: ingress takes no new request; the dispatcher starts nothing more (Dispatcher.beginShutdown). */
  drain(): void {
    if (this.alive) this.post({ type: 'drain' });
  }

  /** Asks the dispatcher to drain its instances (bounded by graceMs) and waits for it to exit. */
  async stop(graceMs: number): Promise<void> {
    if (this.alive) this.post({ type: 'shutdown', graceMs });
    const hardStop = setTimeout(() => void this.worker?.terminate(), graceMs + 5000);
    await this.stopped;
    clearTimeout(hardStop);
  }

  private post(m: ToDispatcher): void {
    this.thread.postMessage(m);
  }
}
