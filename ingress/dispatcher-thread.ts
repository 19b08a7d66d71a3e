// Starts the one dispatcher worker and speaks its control protocol (status, shutdown, logs).

import { Worker } from 'node:worker_threads';
import type { RouterConfig } from '../core/config.ts';
import type { StatusSnapshot } from '../core/dispatcher/dispatcher.ts';
import type { ToMain, ToWorker, WorkerInit } from '../core/dispatcher/messages.ts';

export const DEFAULT_WORKER_FILE = new URL('../core/dispatcher/worker-dev.mjs', import.meta.url);

export class DispatcherThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, (s: StatusSnapshot) => void>();
  private stopped: Promise<void>;
  controlPort = 0;
  alive = true;

  private constructor(init: WorkerInit, file: URL | string, log: (line: string) => void, onExit: (code: number) => void) {
    this.worker = new Worker(file, { workerData: init, name: 'lambda-dispatch-dispatcher' });
    this.stopped = new Promise((resolve) => {
      this.worker.on('exit', (code) => {
        this.alive = false;
        onExit(code);
        resolve();
      });
    });
    this.worker.on('error', (err) => log(`dispatcher worker crashed: ${err.stack ?? err.message}`));
    this.worker.on('message', (m: ToMain) => {
      if (m.type === 'log') log(m.line);
      else if (m.type === 'status') {
        this.waiting.get(m.id)?.(m.status);
        this.waiting.delete(m.id);
      }
    });
  }

  static start(
    init: WorkerInit,
    opts: { file?: URL | string; log: (line: string) => void; onExit: (code: number) => void },
  ): Promise<DispatcherThread> {
    const t = new DispatcherThread(init, opts.file ?? DEFAULT_WORKER_FILE, opts.log, opts.onExit);
    return new Promise((resolve, reject) => {
      const onMessage = (m: ToMain) => {
        if (m.type !== 'ready') return;
        t.worker.off('message', onMessage);
        t.worker.off('error', reject);
        t.controlPort = m.controlPort;
        resolve(t);
      };
      t.worker.on('message', onMessage);
      t.worker.once('error', reject);
    });
  }

  status(): Promise<StatusSnapshot> {
    if (!this.alive) return Promise.reject(new Error('dispatcher worker is not running'));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.post({ type: 'status', id });
    });
  }

  /** Asks the worker to drain its instances (bounded by graceMs) and waits for it to exit. */
  async stop(graceMs: number): Promise<void> {
    if (this.alive) this.post({ type: 'shutdown', graceMs });
    const hardStop = setTimeout(() => void this.worker.terminate(), graceMs + 5000);
    await this.stopped;
    clearTimeout(hardStop);
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }
}
