// Starts the one dispatcher thread and speaks its control protocol (status, shutdown, logs).

import { Worker } from 'node:worker_threads';
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

export class DispatcherThread {
  private readonly thread: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, (s: ThreadStatus) => void>();
  private stopped: Promise<void>;
  controlPort = 0;
  /** The control port certificate's pin; null when it serves plain ws://. */
  certSha256: string | null = null;
  alive = true;

  private constructor(init: DispatcherInit, file: URL | string, log: ThreadLog, onExit: (code: number) => void) {
    this.thread = new Worker(file, { workerData: init, name: 'lambda-dispatch-dispatcher' });
    this.stopped = new Promise((resolve) => {
      this.thread.on('exit', (code) => {
        this.alive = false;
        onExit(code);
        resolve();
      });
    });
    this.thread.on('error', (err) => log.line('error', `dispatcher thread crashed: ${err.stack ?? err.message}`));
    this.thread.on('message', (m: ToIngress) => {
      if (m.type === 'log') log.line(m.level, m.line);
      else if (m.type === 'event') log.event(m.event);
      else if (m.type === 'status') {
        this.waiting.get(m.id)?.({ status: m.status, thread: m.thread });
        this.waiting.delete(m.id);
      }
    });
  }

  static start(
    init: DispatcherInit,
    opts: { file?: URL | string; log: ThreadLog; onExit: (code: number) => void },
  ): Promise<DispatcherThread> {
    const t = new DispatcherThread(init, opts.file ?? DEFAULT_THREAD_FILE, opts.log, opts.onExit);
    return new Promise((resolve, reject) => {
      const onMessage = (m: ToIngress) => {
        if (m.type !== 'ready') return;
        t.thread.off('message', onMessage);
        t.thread.off('error', reject);
        t.controlPort = m.controlPort;
        t.certSha256 = m.certSha256;
        resolve(t);
      };
      t.thread.on('message', onMessage);
      t.thread.once('error', reject);
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
    const hardStop = setTimeout(() => void this.thread.terminate(), graceMs + 5000);
    await this.stopped;
    clearTimeout(hardStop);
  }

  private post(m: ToDispatcher): void {
    this.thread.postMessage(m);
  }
}
