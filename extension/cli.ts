#!/usr/bin/env node
// `lambda-dispatch worker`: runs the extension as a long-lived container worker (worker.ts).
//
//   lambda-dispatch worker --router ws://host:5003 [--channels N] [--max-concurrent N]
//       (--port P [--health-path /health] [--command "..."] | --module path/to/app.js [--export name])
//
// Environment fallbacks: LAMBDA_DISPATCH_RouterUrl, LAMBDA_DISPATCH_WorkerSecret (required; never
// a flag, so that it stays out of process listings), LAMBDA_DISPATCH_PORT,
// LAMBDA_DISPATCH_HEALTH_PATH, LAMBDA_DISPATCH_COMMAND, LAMBDA_DISPATCH_ChannelCount,
// LAMBDA_DISPATCH_MaxConcurrentCount, LAMBDA_DISPATCH_WorkerId. SIGTERM/SIGINT: in-flight
// requests finish (up to LAMBDA_DISPATCH_ShutdownGraceMs, 20000), then the process exits 0.

import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { closeLocalServers } from './app/registry.ts';
import type { App } from './types.ts';
import { startWorker, type Worker } from './worker.ts';

export const USAGE = `usage: lambda-dispatch worker --router ws://host:5003 [--channels N] [--max-concurrent N]
         (--port P [--health-path /health] [--command "..."] | --module path/to/app.js [--export name])

Runs your app as a container worker: permanent capacity the router fills before it invokes Lambda.
The shared secret comes from LAMBDA_DISPATCH_WorkerSecret (required).`;

export class UsageError extends Error {
  override name = 'UsageError';
}

type Env = Record<string, string | undefined>;

function int(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min) throw new UsageError(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return Number(raw);
}

export interface WorkerCommand {
  routerUrl: string;
  secret: string;
  channels: number | undefined;
  maxConcurrent: number | undefined;
  workerId: string | undefined;
  graceMs: number;
  app: { port: number; healthPath: string | undefined; command: string | undefined } | { module: string; export: string };
}

/** Parses `worker …` arguments with the environment as fallback; throws UsageError with a clear message. */
export function parseWorkerArgs(args: string[], env: Env = process.env): WorkerCommand {
  const [verb, ...rest] = args;
  if (verb !== 'worker') throw new UsageError(verb === undefined ? 'missing command: worker' : `unknown command "${verb}"`);
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        router: { type: 'string' },
        channels: { type: 'string' },
        'max-concurrent': { type: 'string' },
        port: { type: 'string' },
        'health-path': { type: 'string' },
        command: { type: 'string' },
        module: { type: 'string' },
        export: { type: 'string' },
        'worker-id': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const routerUrl = values.router ?? env.LAMBDA_DISPATCH_RouterUrl;
  if (routerUrl === undefined || routerUrl.trim() === '') throw new UsageError('the router URL is required: --router ws://host:5003 or LAMBDA_DISPATCH_RouterUrl');
  if (!/^wss?:\/\/[^/]/.test(routerUrl)) throw new UsageError(`the router URL must be ws:// or wss://, got "${routerUrl}"`);
  const secret = env.LAMBDA_DISPATCH_WorkerSecret;
  if (secret === undefined || secret === '') throw new UsageError('LAMBDA_DISPATCH_WorkerSecret must be set to the router\'s worker secret');
  const maxConcurrent = int('--max-concurrent', values['max-concurrent'] ?? env.LAMBDA_DISPATCH_MaxConcurrentCount, 1);
  const channels = int('--channels', values.channels ?? env.LAMBDA_DISPATCH_ChannelCount, 1);
  if (channels !== undefined && channels < (maxConcurrent ?? 10)) {
    throw new UsageError(`--channels (${channels}) must be at least --max-concurrent (${maxConcurrent ?? 10})`);
  }
  const graceMs = int('LAMBDA_DISPATCH_ShutdownGraceMs', env.LAMBDA_DISPATCH_ShutdownGraceMs, 0) ?? 20_000;
  let app: WorkerCommand['app'];
  if (values.module !== undefined) {
    if (values.port !== undefined || values.command !== undefined || values['health-path'] !== undefined) {
      throw new UsageError('--module cannot be combined with --port, --health-path or --command');
    }
    app = { module: values.module, export: values.export ?? 'default' };
  } else {
    if (values.export !== undefined) throw new UsageError('--export needs --module');
    const port = int('--port', values.port ?? env.LAMBDA_DISPATCH_PORT, 1);
    if (port === undefined) throw new UsageError('the app is required: --port P (an app listening on 127.0.0.1:P) or --module path/to/app.js');
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    const healthPath = values['health-path'] ?? env.LAMBDA_DISPATCH_HEALTH_PATH;
    if (healthPath !== undefined && !healthPath.startsWith('/')) throw new UsageError(`--health-path must start with /, got "${healthPath}"`);
    app = { port, healthPath, command: values.command ?? (env.LAMBDA_DISPATCH_COMMAND || undefined) };
  }
  return { routerUrl, secret, channels, maxConcurrent, workerId: values['worker-id'] ?? (env.LAMBDA_DISPATCH_WorkerId || undefined), graceMs, app };
}

/** Loads the app a `--module` names: its export is a request listener, a fetch handler, `{ fetch }` or `{ port }`. */
export async function loadModuleApp(path: string, name: string): Promise<App> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const app = mod[name];
  if (app === undefined || app === null) {
    throw new UsageError(`${path} has no export "${name}" (exports: ${Object.keys(mod).join(', ') || 'none'}); choose one with --export`);
  }
  return app as App;
}

/** Runs the CLI; resolves with the process exit code once the worker has stopped. */
export async function main(args: string[], env: Env = process.env): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let cmd: WorkerCommand;
  let app: App;
  try {
    cmd = parseWorkerArgs(args, env);
    app = 'module' in cmd.app ? await loadModuleApp(cmd.app.module, cmd.app.export) : { port: cmd.app.port, healthPath: cmd.app.healthPath, command: cmd.app.command };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`lambda-dispatch: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  let worker: Worker;
  try {
    worker = await startWorker(app, {
      routerUrl: cmd.routerUrl,
      secret: cmd.secret,
      ...(cmd.channels !== undefined ? { channels: cmd.channels } : {}),
      ...(cmd.maxConcurrent !== undefined ? { maxConcurrent: cmd.maxConcurrent } : {}),
      ...(cmd.workerId !== undefined ? { workerId: cmd.workerId } : {}),
    });
  } catch (err) {
    console.error(`lambda-dispatch worker: ${(err as Error).message}`);
    await closeLocalServers();
    return 1;
  }
  console.error(`lambda-dispatch worker ${worker.workerId}: serving ${'module' in cmd.app ? cmd.app.module : `127.0.0.1:${cmd.app.port}`} for ${cmd.routerUrl}`);
  const code = await new Promise<number>((done) => {
    const onSignal = (signal: string) => {
      console.error(`lambda-dispatch worker: ${signal}: finishing in-flight requests`);
      done(0);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    // The app the worker started exited: nothing can be served (it is never restarted).
    void worker.appExited.then(() => done(1));
  });
  await worker.stop(cmd.graceMs);
  await closeLocalServers();
  return code;
}

function isEntry(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('lambda-dispatch:', err);
      process.exit(1);
    },
  );
}
