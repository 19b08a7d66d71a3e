// The execution environments of one function: a piscina pool of environment.ts workers, plus what
// piscina does not know about Lambda — the concurrency limit without queueing, the function
// timeout, environment ids, fault injection and the billing ledger.

import { Piscina } from 'piscina';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MAX_RESPONSE_BYTES, responseTooLarge, runtimeExit, timedOut, toFunctionError } from './errors.ts';
import type { FunctionErrorBody } from './errors.ts';
import { chargeFor, emptyLedger, recordInvocation } from './ledger.ts';
import type { LedgerSnapshot } from './ledger.ts';
import { isEnvironmentMessage } from './protocol.ts';
import { ProcessTracker } from './processes.ts';
import type { LocalLambdaOptions } from './options.ts';
import { pathToFileURL } from 'node:url';
import type { EnvironmentConfig, EnvironmentMessage, InvocationResult, InvocationTask } from './protocol.ts';

/** Lambda's limit on the init phase; it bounds an invocation that never reaches its handler. */
const INIT_LIMIT_MS = 10_000;

// From the sources the environment runs under tsx; the package's bin has it compiled beside itself.
const ENVIRONMENT_FILE = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './environment.ts' : './local-environment.mjs', import.meta.url));

/** The account id in the ARNs the local service makes up. */
export const ACCOUNT_ID = '000000000000';

export const functionArn = (region: string, name: string) => `arn:aws:lambda:${region}:${ACCOUNT_ID}:function:${name}`;

/** The pool of execution environments that one local function (invoke API or direct mode) runs on. */
export function environmentPoolFor(opts: LocalLambdaOptions): EnvironmentPool {
  const region = opts.region ?? 'us-east-1';
  return new EnvironmentPool({
    functionName: opts.functionName,
    functionArn: functionArn(region, opts.functionName),
    region,
    handlerUrl: opts.handlerModule.startsWith('file:') ? opts.handlerModule : pathToFileURL(opts.handlerModule).href,
    handlerExport: opts.handlerExport ?? 'handler',
    concurrency: opts.concurrency,
    timeoutS: opts.timeoutS,
    memoryMb: opts.memoryMb,
    initMs: opts.initMs,
    idleReapMs: opts.idleReapMs ?? 60_000,
    env: opts.env ?? {},
    log: opts.log ?? (() => {}),
  });
}

export interface EnvironmentPoolOptions {
  functionName: string;
  functionArn: string;
  region: string;
  handlerUrl: string;
  handlerExport: string;
  concurrency: number;
  timeoutS: number;
  memoryMb: number;
  initMs: number;
  idleReapMs: number;
  env: Record<string, string>;
  log: (line: string) => void;
}

export type InvokeOutcome =
  | { ok: true; body: string; envId: string }
  | { ok: false; error: FunctionErrorBody; envId: string | undefined };

export interface PoolStats {
  busy: number;
  warm: number;
  environments: string[];
}

interface Invocation {
  requestId: string;
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  dispatchedAt: number;
  envId: string | undefined;
  cold: boolean;
  /** Set when the service itself ends the invocation (timeout, kill, shutdown). */
  failure: FunctionErrorBody | undefined;
}

interface Environment {
  envId: string;
  threadId: number;
  running: Invocation | undefined;
}

export class EnvironmentPool {
  readonly #opts: EnvironmentPoolOptions;
  readonly #pool: Piscina;
  readonly #inflight = new Map<string, Invocation>();
  readonly #envs = new Map<string, Environment>();
  readonly #envByThread = new Map<number, string>();
  // Thread ids are never reused in a process; remembering dead ones rejects late messages from them
  // and keeps the balancer from handing a task to a thread that is being terminated.
  readonly #deadThreads = new Set<number>();
  /** Child processes by the thread whose environment started them (processes.ts). */
  readonly #processes: ProcessTracker;
  #eventQueue: InvocationTask[] = [];
  readonly #ledger: LedgerSnapshot = emptyLedger();
  #closed = false;

  constructor(opts: EnvironmentPoolOptions) {
    this.#opts = opts;
    this.#processes = new ProcessTracker(opts.log);
    const config: EnvironmentConfig = {
      handlerUrl: opts.handlerUrl,
      handlerExport: opts.handlerExport,
      functionName: opts.functionName,
      functionArn: opts.functionArn,
      region: opts.region,
      memoryMb: opts.memoryMb,
      timeoutS: opts.timeoutS,
      initMs: opts.initMs,
      env: opts.env,
      envCounter: new Int32Array(new SharedArrayBuffer(4)),
    };
    const execArgv = workerExecArgv();
    this.#pool = new Piscina({
      filename: ENVIRONMENT_FILE,
      minThreads: 0,
      // Room above the concurrency limit (which this class enforces) so that a thread still
      // exiting after killEnvironment never holds the slot a new environment needs.
      maxThreads: opts.concurrency * 2,
      concurrentTasksPerWorker: 1,
      loadBalancer: (_task, workers) => this.#pickThread(workers),
      idleTimeout: opts.idleReapMs,
      workerData: config,
      // The function's memory size as the environment's heap limit: a handler that outgrows it
      // dies like an out-of-memory Lambda instead of taking the whole process down.
      resourceLimits: { maxOldGenerationSizeMb: opts.memoryMb },
      ...(execArgv ? { execArgv } : {}),
    });
    this.#pool.on('message', (m: unknown) => {
      if (isEnvironmentMessage(m)) this.#onEnvironmentMessage(m);
    });
    // piscina reports a worker it removes ('workerDestroy'), but a thread that exits on its own
    // reads as id -1 by then; the thread's own 'exit' event, bound while its id is known, covers it.
    this.#pool.on('workerCreate', (w: { id: number }) => {
      const id = w.id;
      this.#pool.threads.find((t) => t.threadId === id)?.once('exit', () => this.#onThreadGone(id));
    });
    this.#pool.on('workerDestroy', (w: { id: number }) => {
      if (w.id >= 0) this.#onThreadGone(w.id);
    });
    // Without a listener, an error from an idle worker would be thrown in the service process.
    this.#pool.on('error', (err: unknown) => this.#opts.log(`environment error: ${String(err)}`));
  }

  get inFlight(): number {
    return this.#inflight.size;
  }

  /** Starts a synchronous invocation; undefined means throttled (every allowed environment busy). */
  tryInvoke(task: InvocationTask): Promise<InvokeOutcome> | undefined {
    const started = this.#start(task);
    if (started === undefined) this.#ledger.throttles += 1;
    return started;
  }

  /** An `Event` invocation: Lambda queues these internally, so one never sees a throttle. */
  invokeAsync(task: InvocationTask): void {
    if (this.#closed) return;
    if (this.#start(task) === undefined) this.#eventQueue.push(task);
  }

  /**
   * The billing ledger. With `includeRunning`, invocations still running are charged for the time
   * they have run so far (not counted as invocations): what a long-lived invocation has cost up to now.
   */
  ledger(opts: { includeRunning?: boolean } = {}): LedgerSnapshot {
    const snapshot = { ...this.#ledger };
    if (opts.includeRunning) {
      const now = performance.now();
      for (const inv of this.#inflight.values()) {
        const charge = chargeFor(now - inv.dispatchedAt, this.#opts.memoryMb);
        snapshot.billedMs += charge.billedMs;
        snapshot.gbSeconds += charge.gbSeconds;
      }
    }
    return snapshot;
  }

  stats(): PoolStats {
    let busy = 0;
    for (const env of this.#envs.values()) if (env.running) busy += 1;
    return { busy, warm: this.#envs.size - busy, environments: [...this.#envs.keys()] };
  }

  /** Terminates an environment; its running invocation (if any) fails with Runtime.ExitError. */
  #discardThread(threadId: number): void {
    // Marked dead first: the balancer then never gives it another task while it exits.
    this.#onThreadGone(threadId);
    void this.#pool.threads.find((t) => t.threadId === threadId)?.terminate();
  }

  kill(envId: string): boolean {
    const env = this.#envs.get(envId);
    if (!env) return false;
    if (env.running) {
      this.#end(env.running, runtimeExit(env.running.requestId, 'signal: killed'));
      return true;
    }
    const thread = this.#pool.threads.find((t) => t.threadId === env.threadId);
    if (!thread) {
      this.#onThreadGone(env.threadId);
      return false;
    }
    // Marked dead first: the balancer then never gives it another task while it exits.
    this.#onThreadGone(env.threadId);
    void thread.terminate();
    return true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#eventQueue = [];
    for (const inv of this.#inflight.values()) {
      clearTimeout(inv.timer);
      inv.failure ??= runtimeExit(inv.requestId, 'service stopped');
    }
    // The environments' processes first, from here: a thread being terminated cleans up nothing,
    // and one parked between invocations never gets to run its exit hooks at all.
    this.#processes.endAll();
    // destroy() fails whatever still runs and waits for every thread to exit.
    await this.#pool.destroy();
    // A thread may have reported a process on its way out.
    this.#processes.endAll();
    await this.#processes.settled();
  }

  /**
   * An idle thread for the next task (piscina spawns one when this returns null): a warm
   * environment first, as Lambda does, then a started thread that has no environment yet; never
   * one being terminated. `currentUsage` is 0 only for a thread with nothing running.
   */
  #pickThread<W extends { id: number; currentUsage: number }>(workers: W[]): W | null {
    let fresh: W | null = null;
    for (const w of workers) {
      if (w.currentUsage !== 0 || this.#deadThreads.has(w.id)) continue;
      if (this.#envByThread.has(w.id)) return w;
      fresh ??= w;
    }
    return fresh;
  }

  #start(task: InvocationTask): Promise<InvokeOutcome> | undefined {
    if (this.#closed || this.#inflight.size >= this.#opts.concurrency) return undefined;
    const inv: Invocation = {
      requestId: task.requestId,
      controller: new AbortController(),
      timer: undefined,
      dispatchedAt: performance.now(),
      envId: undefined,
      cold: false,
      failure: undefined,
    };
    this.#inflight.set(inv.requestId, inv);
    this.#arm(inv, INIT_LIMIT_MS + this.#opts.timeoutS * 1000);
    return (this.#pool.run(task, { signal: inv.controller.signal }) as Promise<InvocationResult>).then(
      (result) => this.#settled(inv, result),
      (err: unknown) => this.#settled(inv, err),
    );
  }

  #arm(inv: Invocation, ms: number): void {
    clearTimeout(inv.timer);
    inv.timer = setTimeout(() => this.#end(inv, timedOut(inv.requestId, this.#opts.timeoutS)), Math.max(0, ms));
  }

  /** Ends an invocation from the outside; piscina terminates the thread when the signal aborts. */
  #end(inv: Invocation, failure: FunctionErrorBody): void {
    if (inv.failure || !this.#inflight.has(inv.requestId)) return;
    inv.failure = failure;
    inv.controller.abort(failure);
  }

  #onEnvironmentMessage(m: EnvironmentMessage): void {
    if (m.kind === 'process') {
      const p = { pid: m.pid, group: m.group };
      // From a thread already gone (or a closed pool): ended at once, never tracked.
      if (this.#deadThreads.has(m.threadId) || this.#closed) this.#processes.end([p]);
      else this.#processes.started(m.threadId, p);
      return;
    }
    if (m.kind === 'process-exit') return this.#processes.exited(m.threadId, m.pid);
    const inv = this.#inflight.get(m.requestId);
    if (!inv || inv.failure) return;
    if (m.kind === 'begin') {
      const env = this.#noteEnvironment(m.envId, m.threadId);
      inv.envId = m.envId;
      inv.cold ||= m.cold;
      if (env) env.running = inv;
    } else {
      this.#arm(inv, m.deadline - Date.now());
    }
  }

  #noteEnvironment(envId: string, threadId: number): Environment | undefined {
    const known = this.#envs.get(envId);
    if (known) return known;
    if (this.#deadThreads.has(threadId)) return undefined;
    const env: Environment = { envId, threadId, running: undefined };
    this.#envs.set(envId, env);
    this.#envByThread.set(threadId, envId);
    this.#ledger.environmentsCreated += 1;
    return env;
  }

  #onThreadGone(threadId: number): void {
    this.#deadThreads.add(threadId);
    this.#processes.endThread(threadId);
    const envId = this.#envByThread.get(threadId);
    if (envId !== undefined) this.#forget(envId);
  }

  #forget(envId: string): void {
    const env = this.#envs.get(envId);
    if (!env) return;
    this.#envs.delete(envId);
    if (this.#envByThread.get(env.threadId) === envId) this.#envByThread.delete(env.threadId);
    this.#opts.log(`environment ${envId} ended`);
  }

  #settled(inv: Invocation, result: InvocationResult | unknown): InvokeOutcome {
    clearTimeout(inv.timer);
    this.#inflight.delete(inv.requestId);
    let outcome: InvokeOutcome;
    let durationMs: number;
    if (!inv.failure && isResult(result)) {
      // The result may overtake the 'begin' message (different ports), so it names its environment too.
      this.#noteEnvironment(result.envId, result.threadId);
      inv.cold ||= result.cold;
      durationMs = result.initDurationMs + result.durationMs;
      if (result.cold) this.#opts.log(`cold start ${result.envId}: init ${result.initDurationMs.toFixed(1)} ms`);
      if (!result.ok) outcome = { ok: false, error: result.error, envId: result.envId };
      else if (result.body.length > MAX_RESPONSE_BYTES / 3 && Buffer.byteLength(result.body) > MAX_RESPONSE_BYTES) {
        outcome = { ok: false, error: responseTooLarge(), envId: result.envId };
      } else outcome = { ok: true, body: result.body, envId: result.envId };
      // Lambda discards an environment whose init failed, and everything it started: the next
      // invocation gets a fresh thread (a module whose evaluation threw would throw again in this one).
      if (!result.ok && result.fatal) {
        this.#forget(result.envId);
        this.#discardThread(result.threadId);
      }
    } else {
      outcome = { ok: false, error: inv.failure ?? crashError(inv.requestId, result), envId: inv.envId };
      durationMs = performance.now() - inv.dispatchedAt;
    }
    const env = inv.envId === undefined ? undefined : this.#envs.get(inv.envId);
    if (env?.running === inv) env.running = undefined;
    recordInvocation(this.#ledger, { durationMs, memoryMb: this.#opts.memoryMb, cold: inv.cold, error: !outcome.ok });
    this.#drainEvents();
    return outcome;
  }


  #drainEvents(): void {
    while (!this.#closed && this.#eventQueue.length > 0 && this.#inflight.size < this.#opts.concurrency) {
      const task = this.#eventQueue.shift();
      if (task) void this.#start(task);
    }
  }
}

function isResult(v: unknown): v is InvocationResult {
  return typeof v === 'object' && v !== null && 'ok' in v && 'envId' in v;
}

/** A task rejected without the service ending it: the environment's thread died under it. */
function crashError(requestId: string, err: unknown): FunctionErrorBody {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return { errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed` };
  }
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const exit = /worker exited with code: (\d+)/.exec(message);
  if (exit) return runtimeExit(requestId, `exit status ${exit[1]}`);
  if (/terminat/i.test(message)) return runtimeExit(requestId, 'signal: killed');
  // An uncaught exception in the environment: Node's runtime reports the error itself, then exits.
  return toFunctionError(err);
}

/**
 * Worker threads inherit execArgv, so under `node --import tsx` or the tsx CLI the environments
 * load TypeScript too. When tsx was registered some other way, add it explicitly.
 */
function workerExecArgv(): string[] | undefined {
  if (process.execArgv.some((a) => a.includes('tsx'))) return undefined;
  try {
    return [...process.execArgv, '--import', import.meta.resolve('tsx')];
  } catch {
    return undefined;
  }
}
