// What the app kinds share across handlers and invocations in one process: one loopback server per
// request listener, one process per `{ command }` app, one adapted listener per fetch handler.
//
// Why process-wide, and why created lazily: an execution environment runs many invocations, and
// possibly several createHandler() calls with the same app, which must all reach the same server
// or process — so the registry cannot belong to one handler; and closeLocalServers() /
// stopAppProcesses() are public functions that reach every one of them. But importing the
// extension must do nothing: the registry (and its `exit` hook, which kills the app processes
// with the extension) comes into being only when an app first needs it.

import type http from 'node:http';
import { AppProcess } from './child-process.ts';
import { fetchListener } from './fetch-app.ts';
import { closeLocalServer, startLocalServer, type LocalServer } from './local-server.ts';
import type { FetchHandler } from '../types.ts';

export class AppRegistry {
  private readonly servers = new Map<http.RequestListener | http.Server, Promise<LocalServer>>();
  private readonly processes = new Map<string, AppProcess>();
  /** Fetch handlers already adapted, so that one handler always gets the same loopback server. */
  private readonly adapted = new WeakMap<object, http.RequestListener>();
  private exitHook: (() => void) | null = null;

  /** The server of `app`, started on first use (and again after a failed start or close()). */
  localServer(app: http.RequestListener | http.Server): Promise<LocalServer> {
    let p = this.servers.get(app);
    if (p === undefined) {
      p = startLocalServer(app);
      this.servers.set(app, p);
      // A failed start may be retried by a later invocation.
      p.catch(() => this.servers.delete(app));
    }
    return p;
  }

  /** The process running `command` on `port` in `cwd` if it was started already. */
  started(command: string, port: number, cwd: string | undefined): AppProcess | undefined {
    return this.processes.get(processKey(command, port, cwd));
  }

  /** The process running `command` on `port` in `cwd`, started on first use, never restarted. */
  process(command: string, port: number, cwd: string | undefined): AppProcess {
    const key = processKey(command, port, cwd);
    let proc = this.processes.get(key);
    if (proc === undefined) {
      proc = new AppProcess(command, port, cwd);
      this.processes.set(key, proc);
      if (this.exitHook === null) {
        // An app process must not outlive the extension, however the extension ends.
        this.exitHook = () => {
          for (const p of this.processes.values()) p.kill('SIGKILL');
        };
        process.once('exit', this.exitHook);
      }
    }
    return proc;
  }

  listenerFor(fetch: FetchHandler, key: object): http.RequestListener {
    let listener = this.adapted.get(key);
    if (listener === undefined) {
      listener = fetchListener(fetch);
      this.adapted.set(key, listener);
    }
    return listener;
  }

  /** Stops every app process (SIGTERM to its process group, SIGKILL after `graceMs`) and waits for them. */
  async stopProcesses(graceMs: number): Promise<void> {
    const all = [...this.processes.values()];
    this.processes.clear();
    await Promise.all(all.map((p) => p.stop(graceMs)));
  }

  /** Stops the app processes, then closes the loopback servers and their connections. */
  async close(): Promise<void> {
    await this.stopProcesses(5000);
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(
      all.map(async (p) => {
        const local = await p.catch(() => null);
        if (local !== null) await closeLocalServer(local);
      }),
    );
  }
}

const processKey = (command: string, port: number, cwd: string | undefined) => `${cwd ?? ''}\0${port}\0${command}`;

let shared: AppRegistry | null = null;

/** The process's registry, created on first use. */
export function appRegistry(): AppRegistry {
  shared ??= new AppRegistry();
  return shared;
}

/** Stops the processes started from `command` (SIGTERM to their process group) and waits for them. */
export async function stopAppProcesses(graceMs = 5000): Promise<void> {
  await shared?.stopProcesses(graceMs);
}

/**
 * Closes the in-process servers started for request listeners and their pooled connections, and
 * stops the processes started from `command`. Lambda never needs this (the environment just
 * ends); tests and long-lived workers shutting down do.
 */
export async function closeLocalServers(): Promise<void> {
  await shared?.close();
}
