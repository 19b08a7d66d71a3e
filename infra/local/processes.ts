// The processes an execution environment started. On Lambda, everything an environment runs dies
// with it; locally an environment is a worker thread, and a terminated thread runs no JavaScript,
// so its own clean-up (the extension's exit hook, AppProcess.stop) may never happen. The service
// (main thread) therefore keeps the PIDs each environment reports (environment.ts reports every
// child it spawns) and ends them itself: SIGTERM to the process group (or to the process, when it
// is not a group leader), SIGKILL after a grace, done when no live process of the group is left.

import { readdirSync, readFileSync } from 'node:fs';

/** How long a process has between SIGTERM and SIGKILL. */
export const PROCESS_GRACE_MS = 2000;

export interface TrackedProcess {
  pid: number;
  /** Started with `detached`: the leader of its own process group, which is signalled whole. */
  group: boolean;
}

const isLinux = process.platform === 'linux';

/** `ps`-like state of a process from /proc (Linux), undefined when there is no such process. */
function procState(pid: number): { state: string; pgrp: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', pgrp: Number(fields[2]) };
}

/** A process that runs: it exists and (where /proc tells) is not a zombie waiting to be reaped. */
export function isRunning(pid: number): boolean {
  if (isLinux) {
    const s = procState(pid);
    return s !== undefined && s.state !== 'Z' && s.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Live (not zombie) members of process group `pgid`; Linux only, else undefined. */
export function groupMembers(pgid: number): number[] | undefined {
  if (!isLinux) return undefined;
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = procState(pid);
    if (s && s.pgrp === pgid && s.state !== 'Z' && s.state !== 'X') out.push(pid);
  }
  return out;
}

/**
 * Whether anything of `p` still runs. A zombie counts as gone: a process started from a thread
 * that was terminated is never reaped by it (its handle went with the thread's event loop).
 */
export function isAlive(p: TrackedProcess): boolean {
  if (isLinux) return p.group ? (groupMembers(p.pid)?.length ?? 0) > 0 : isRunning(p.pid);
  try {
    process.kill(p.group ? -p.pid : p.pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function signal(p: TrackedProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(p.group ? -p.pid : p.pid, sig);
  } catch {
    // Already gone (ESRCH), or (EPERM) no longer ours.
  }
}

/** SIGTERM now, SIGKILL after `graceMs`; resolves once nothing of any of them is left (or after the SIGKILL). */
export async function endProcesses(all: TrackedProcess[], graceMs = PROCESS_GRACE_MS): Promise<void> {
  let live = all.filter(isAlive);
  if (live.length === 0) return;
  for (const p of live) signal(p, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (live.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 25));
    live = live.filter(isAlive);
  }
  for (const p of live) signal(p, 'SIGKILL');
  // SIGKILL cannot be ignored; a short wait lets the kernel finish the job before callers look.
  const killedBy = Date.now() + 1000;
  while (live.length > 0 && Date.now() < killedBy) {
    await new Promise((r) => setTimeout(r, 10));
    live = live.filter(isAlive);
  }
}

/**
 * The processes of a pool's environments, by the thread that started them, and the ending of them:
 * a thread's when its environment goes, all of them when the pool closes, SIGKILL for all on a
 * process exit that leaves no time for a grace.
 */
export class ProcessTracker {
  readonly #byThread = new Map<number, Map<number, TrackedProcess>>();
  /** Being ended, so that settled() can wait for them and an exit can still SIGKILL them. */
  readonly #leaving = new Set<TrackedProcess>();
  readonly #ending = new Set<Promise<void>>();
  readonly #onExit = (): void => {
    for (const m of this.#byThread.values()) for (const p of m.values()) signal(p, 'SIGKILL');
    for (const p of this.#leaving) signal(p, 'SIGKILL');
  };

  constructor(private readonly log: (line: string) => void) {
    process.on('exit', this.#onExit);
  }

  started(threadId: number, p: TrackedProcess): void {
    let m = this.#byThread.get(threadId);
    if (!m) this.#byThread.set(threadId, (m = new Map()));
    m.set(p.pid, p);
  }

  /** A group outlives its leader while anything it started runs: it is watched until then. */
  exited(threadId: number, pid: number): void {
    const p = this.#byThread.get(threadId)?.get(pid);
    if (p && !isAlive(p)) this.#byThread.get(threadId)?.delete(pid);
  }

  endThread(threadId: number): void {
    const m = this.#byThread.get(threadId);
    this.#byThread.delete(threadId);
    if (m && m.size > 0) this.end([...m.values()]);
  }

  endAll(): void {
    for (const threadId of [...this.#byThread.keys()]) this.endThread(threadId);
  }

  end(procs: TrackedProcess[]): void {
    for (const p of procs) this.#leaving.add(p);
    const ending = endProcesses(procs).catch((err: unknown) => this.log(`ending processes: ${String(err)}`));
    this.#ending.add(ending);
    void ending.finally(() => {
      this.#ending.delete(ending);
      for (const p of procs) this.#leaving.delete(p);
    });
  }

  /** Resolves once every process being ended is gone; the exit hook is removed. */
  async settled(): Promise<void> {
    while (this.#ending.size > 0) await Promise.all(this.#ending);
    process.off('exit', this.#onExit);
  }
}
