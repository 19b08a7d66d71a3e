#!/usr/bin/env node
// `lambda-dispatch worker`: runs the extension as a long-lived container worker (worker.ts).
//
//   lambda-dispatch worker --router wss://host:5003 --router-cert-sha256 HEX [--channels N] [--max-concurrent N]
//       (--port P [--health-path /health] [--command "..."] | --module path/to/app.js [--export name])
//
// Environment fallbacks: LAMBDA_DISPATCH_RouterUrl, LAMBDA_DISPATCH_RouterCertSha256, LAMBDA_DISPATCH_WorkerSecret (required; never
// a flag, so that it stays out of process listings), LAMBDA_DISPATCH_PORT,
// LAMBDA_DISPATCH_HEALTH_PATH, LAMBDA_DISPATCH_COMMAND, LAMBDA_DISPATCH_ChannelCount,
// LAMBDA_DISPATCH_MaxConcurrentCount, LAMBDA_DISPATCH_WorkerId, LAMBDA_DISPATCH_WorkerFunction. SIGTERM/SIGINT: in-flight
// requests finish (up to LAMBDA_DISPATCH_ShutdownGraceMs, 20000), then the process exits 0.

import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SHUTDOWN_GRACE_MS, SHUTDOWN_GRACE_MS, WORKER_SECRET_MIN_LENGTH } from '../core/config.ts';
import { envReader, integer, parseValue, port, refine, secret, SettingError, sha256Fingerprint, text, url, type Reader } from '../core/settings/env.ts';
import { FUNCTION_NAME } from '../core/routing/route-table.ts';
import { closeLocalServers } from './app/registry.ts';
import type { App } from './types.ts';
import { startWorker, type Worker } from './worker.ts';

export const USAGE = `usage: lambda-dispatch worker --router wss://host:5003 --router-cert-sha256 HEX [--channels N] [--max-concurrent N] [--function NAME]
         (--port P [--health-path /health] [--command "..."] | --module path/to/app.js [--export name])

Runs your app as a container worker: permanent capacity the router fills before it invokes Lambda.
The shared secret comes from LAMBDA_DISPATCH_WorkerSecret (required). With wss:// the router's
certificate must be pinned: --router-cert-sha256 or LAMBDA_DISPATCH_RouterCertSha256, the SHA-256
the router logs at start (openssl x509 -noout -fingerprint -sha256 prints it too).`;

export class UsageError extends Error {
  override name = 'UsageError';
}

type Env = Record<string, string | undefined>;

// Without the CLI's --channels/--max-concurrent the worker's own defaults apply; these bounds
// match what one invocation may ask for.
const count = integer({ min: 1, max: 10_000 });
const healthPath = refine(text, (v) => v.startsWith('/'), 'a path starting with /');
// The router refuses shorter secrets, so a shorter one here could never be accepted.
const workerSecret = secret({ minLength: WORKER_SECRET_MIN_LENGTH });
const functionNameSetting = refine(text, (v) => FUNCTION_NAME.test(v), "a function's name in the router's routes (letters, digits, _ and -, 1–64)");

export interface WorkerCommand {
  routerUrl: string;
  /** The router certificate's pin (lower-case hex); set exactly when routerUrl is wss://. */
  routerCertSha256: string | undefined;
  secret: string;
  channels: number | undefined;
  maxConcurrent: number | undefined;
  workerId: string | undefined;
  /** The router's function (LAMBDA_DISPATCH_Routes name) whose app this is; undefined: the router's first. */
  functionName: string | undefined;
  graceMs: number;
  app: { port: number; healthPath: string | undefined; command: string | undefined } | { module: string; export: string };
}

/** Parses `worker …` arguments with the environment as fallback; throws UsageError with a clear message. */
export function parseWorkerArgs(args: string[], env: Env = process.env): WorkerCommand {
  try {
    return parseWorkerCommand(args, env);
  } catch (err) {
    // A bad setting is a usage problem here: main() prints it with the usage text and exits 2.
    if (err instanceof SettingError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

function parseWorkerCommand(args: string[], env: Env): WorkerCommand {
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
        'router-cert-sha256': { type: 'string' },
        channels: { type: 'string' },
        'max-concurrent': { type: 'string' },
        port: { type: 'string' },
        'health-path': { type: 'string' },
        command: { type: 'string' },
        module: { type: 'string' },
        export: { type: 'string' },
        'worker-id': { type: 'string' },
        function: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const read = envReader(env);
  // A flag wins over its variable, but a variable that is set is checked either way, and each
  // error names where the bad value came from.
  const flagOrEnv = <T>(flag: string, given: string | undefined, variable: string, r: Reader<T>, flagReader: Reader<T> = r): T | undefined => {
    const fromEnv = read(variable, r);
    return given !== undefined ? parseValue(flag, given, flagReader) : fromEnv;
  };
  const routerUrl = flagOrEnv('--router', values.router, 'LAMBDA_DISPATCH_RouterUrl', url(['ws:', 'wss:']));
  if (routerUrl === undefined) throw new UsageError('the router URL is required: --router wss://host:5003 or LAMBDA_DISPATCH_RouterUrl');
  const pin = flagOrEnv('--router-cert-sha256', values['router-cert-sha256'], 'LAMBDA_DISPATCH_RouterCertSha256', sha256Fingerprint);
  const tls = /^wss:/i.test(routerUrl);
  if (tls && pin === undefined) {
    throw new UsageError('a wss:// router URL needs the router\'s certificate pin: --router-cert-sha256 HEX or LAMBDA_DISPATCH_RouterCertSha256 (the SHA-256 the router logs at start)');
  }
  // A pin with plain ws:// protects nothing; whoever set it expects it to.
  if (!tls && pin !== undefined) throw new UsageError('--router-cert-sha256 / LAMBDA_DISPATCH_RouterCertSha256 needs a wss:// router URL');
  const secretValue = read('LAMBDA_DISPATCH_WorkerSecret', workerSecret);
  if (secretValue === undefined) throw new UsageError('LAMBDA_DISPATCH_WorkerSecret must be set to the router\'s worker secret');
  const maxConcurrent = flagOrEnv('--max-concurrent', values['max-concurrent'], 'LAMBDA_DISPATCH_MaxConcurrentCount', count);
  const channels = flagOrEnv('--channels', values.channels, 'LAMBDA_DISPATCH_ChannelCount', count);
  if (channels !== undefined && channels < (maxConcurrent ?? 10)) {
    throw new UsageError(`--channels (${channels}) must be at least --max-concurrent (${maxConcurrent ?? 10})`);
  }
  const shutdownGraceMs = read('LAMBDA_DISPATCH_ShutdownGraceMs', SHUTDOWN_GRACE_MS, DEFAULT_SHUTDOWN_GRACE_MS);
  const workerId = flagOrEnv('--worker-id', values['worker-id'], 'LAMBDA_DISPATCH_WorkerId', text);
  const functionName = flagOrEnv('--function', values.function, 'LAMBDA_DISPATCH_WorkerFunction', functionNameSetting);
  const portValue = flagOrEnv('--port', values.port, 'LAMBDA_DISPATCH_PORT', port(), integer({ min: 1, max: 65_535 }));
  const healthPathValue = flagOrEnv('--health-path', values['health-path'], 'LAMBDA_DISPATCH_HEALTH_PATH', healthPath);
  const command = flagOrEnv('--command', values.command, 'LAMBDA_DISPATCH_COMMAND', text);
  let app: WorkerCommand['app'];
  if (values.module !== undefined) {
    if (values.port !== undefined || values.command !== undefined || values['health-path'] !== undefined) {
      throw new UsageError('--module cannot be combined with --port, --health-path or --command');
    }
    app = { module: values.module, export: values.export ?? 'default' };
  } else {
    if (values.export !== undefined) throw new UsageError('--export needs --module');
    if (portValue === undefined) throw new UsageError('the app is required: --port P (an app listening on 127.0.0.1:P) or --module path/to/app.js');
    app = { port: portValue, healthPath: healthPathValue, command };
  }
  return { routerUrl, routerCertSha256: pin, secret: secretValue, channels, maxConcurrent, workerId, functionName, graceMs: shutdownGraceMs, app };
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
      ...(cmd.routerCertSha256 !== undefined ? { routerCertSha256: cmd.routerCertSha256 } : {}),
      secret: cmd.secret,
      ...(cmd.channels !== undefined ? { channels: cmd.channels } : {}),
      ...(cmd.maxConcurrent !== undefined ? { maxConcurrent: cmd.maxConcurrent } : {}),
      ...(cmd.workerId !== undefined ? { workerId: cmd.workerId } : {}),
      ...(cmd.functionName !== undefined ? { functionName: cmd.functionName } : {}),
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
  // Bundled into the package's bin (dist/cli.mjs) this module shares the entry's file, but the
  // bin's own main (infra/cli/main.ts) runs, not this one.
  if (entry === undefined || !import.meta.url.endsWith('/cli.ts')) return false;
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
