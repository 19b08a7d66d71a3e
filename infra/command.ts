// A command that a test or a check runs (npm, tsc, sst, a synthesized program) and must never wait
// on for ever. execFile is not enough for that: its timeout signals only the direct child, and its
// promise waits for the child's output pipes to close, which a grandchild left running (a bun
// install under `sst install`, a script under npm) can hold open indefinitely, so one stuck
// registry fetch once held a whole CI run until its deadline. Here the command gets its own process
// group and no stdin (nothing can sit waiting for an answer), the deadline kills the whole group,
// and the answer comes when the command exits, whatever it left behind (that is killed too). A
// process that leaves the group on purpose (setsid, a daemon) is out of reach; nothing these tests
// run does that.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export interface CommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** After this long the command and everything it started are killed; the result says so. */
  timeoutMs: number;
}

export interface CommandResult {
  /** The exit code; 124 when the deadline killed it (as timeout(1) reports), 127 when it could not start. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** Output kept per stream; a runaway command cannot fill the test's memory. */
const MAX_OUTPUT = 16 << 20;
/** How long output may still arrive after the command exited (its pipes drain), before they are cut. */
const DRAIN_MS = 2_000;

export function runCommand(cmd: string, args: readonly string[], o: CommandOptions): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += c;
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const settle = (code: number, extra = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({ code, stdout, stderr: stderr + extra, timedOut, ms: Date.now() - started });
    };
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup();
      // A process SIGKILL cannot end at once (uninterruptible sleep) must not hold the answer either.
      setTimeout(() => settle(124, `\n${cmd} ${args.join(' ')}: killed after ${o.timeoutMs} ms (it had not exited ${DRAIN_MS} ms later)`), DRAIN_MS).unref();
    }, o.timeoutMs);
    child.once('error', (err) => settle(127, `\n${cmd}: ${err.message}`));
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      // Whatever the command left running in its group would otherwise outlive the test.
      killGroup();
      const result = timedOut ? 124 : (code ?? 128 + (signal ? constants.signals[signal] : 0));
      const note = timedOut ? `\n${cmd} ${args.join(' ')}: killed after ${o.timeoutMs} ms` : '';
      const cut = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        settle(result, note);
      }, DRAIN_MS);
      child.once('close', () => {
        clearTimeout(cut);
        settle(result, note);
      });
    });
  });
}

/** runCommand, throwing an error that carries the command's output unless it exited 0. */
export async function mustRun(cmd: string, args: readonly string[], o: CommandOptions): Promise<CommandResult> {
  const r = await runCommand(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}\n${r.stdout}${r.stderr}`);
  return r;
}
