// Work that several test files of one run need and that must happen once: `npm pack` and its
// install (packed.ts), `sst install` (examples and the SST check). The test runner starts each
// file as its own process, so they agree through the file system: the first to arrive creates a
// directory named for the job and the runner's pid and does the work, the others wait for its
// answer there. Directories of runners that have exited are removed by the next run.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PREFIX = 'lambda-dispatch-run-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sweep(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length).split('-')[0]);
    if (Number.isInteger(pid) && !alive(pid)) rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
  }
}

const inThisProcess = new Map<string, Promise<unknown>>();

/** `make(dir)` once per test run for `job`; every caller gets its (JSON) answer. */
export function oncePerRun<T>(job: string, make: (dir: string) => Promise<T>, waitMs = 300_000): Promise<T> {
  let p = inThisProcess.get(job) as Promise<T> | undefined;
  if (!p) {
    p = arrive(job, make, waitMs);
    inThisProcess.set(job, p);
  }
  return p;
}

async function arrive<T>(job: string, make: (dir: string) => Promise<T>, waitMs: number): Promise<T> {
  const dir = path.join(tmpdir(), `${PREFIX}${process.ppid}-${job}`);
  const answer = path.join(dir, 'answer.json');
  const failure = path.join(dir, 'failed.txt');
  let leader = false;
  try {
    mkdirSync(dir);
    leader = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (leader) {
    sweep();
    try {
      const result = await make(dir);
      writeFileSync(answer, JSON.stringify(result ?? null));
      return result;
    } catch (err) {
      writeFileSync(failure, err instanceof Error ? (err.stack ?? err.message) : String(err));
      throw err;
    }
  }
  const until = Date.now() + waitMs;
  while (Date.now() < until) {
    if (existsSync(answer)) return JSON.parse(readFileSync(answer, 'utf8')) as T;
    if (existsSync(failure)) throw new Error(`${job} failed in another test file:\n${readFileSync(failure, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${job}: no answer in ${dir} after ${waitMs} ms`);
}
