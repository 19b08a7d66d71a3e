// The process of a `{ command }` app: started once per execution environment (or worker), stdout
// and stderr passed through, never restarted. It runs in its own process group so that the shell
// and everything it started stop together.

import { spawn, type ChildProcess } from 'node:child_process';

export class AppProcess {
  readonly child: ChildProcess;
  /** Why it ended, once it has. */
  exited: string | null = null;
  private readonly listeners = new Set<(why: string) => void>();

  constructor(command: string, port: number, cwd: string | undefined) {
    this.child = spawn(command, {
      shell: true,
      cwd,
      detached: process.platform !== 'win32',
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, PORT: String(port) },
    });
    this.child.on('error', (err) => this.ended(`the app command \`${command}\` could not start: ${err.message}`));
    this.child.on('exit', (code, signal) =>
      this.ended(`the app command \`${command}\` exited (${signal !== null ? `signal ${signal}` : `code ${code}`}); it is not restarted`),
    );
  }

  private ended(why: string): void {
    if (this.exited !== null) return;
    this.exited = why;
    for (const l of this.listeners) l(why);
  }

  /** Calls `listener` when the process ends (a microtask later if it already has); returns the unsubscribe. */
  onExit(listener: (why: string) => void): () => void {
    if (this.exited !== null) {
      const why = this.exited;
      queueMicrotask(() => listener(why));
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Signals the whole process group. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exited !== null || this.child.pid === undefined) return;
    try {
      if (process.platform !== 'win32') process.kill(-this.child.pid, signal);
      else this.child.kill(signal);
    } catch {
      this.child.kill(signal);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.exited !== null || this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      const force = setTimeout(() => this.kill('SIGKILL'), graceMs);
      this.child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      this.kill();
    });
  }
}
