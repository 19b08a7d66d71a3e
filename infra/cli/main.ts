#!/usr/bin/env node
// The package's bin, `lambda-dispatch`: `router` (the router from flags and the environment),
// `worker` (the app as a container worker, extension/cli.ts) and `local` (a handler module of
// one's own behind a router and the local Lambda, what `npm start` does for the demo). Arguments
// and --help are commander's; the settings behind the flags are the LAMBDA_DISPATCH_* variables,
// read and checked by the same code as in a deployment.

import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { main as workerMain } from '../../extension/cli.ts';

type Env = Record<string, string | undefined>;

/** Flags that stand for a router setting: the flag wins over the variable. */
const ROUTER_FLAGS = [
  ['--function <name>', 'the function to invoke (name or ARN)', 'LAMBDA_DISPATCH_FunctionName'],
  ['--port <port>', 'client HTTP port (default 5001)', 'LAMBDA_DISPATCH_IncomingRequestHTTPPort'],
  ['--control-port <port>', "port of the function's WebSocket callbacks (default 5003)", 'LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port'],
  ['--admin-port <port>', 'status, metrics and dashboard listener on loopback (default 5002)', 'LAMBDA_DISPATCH_AdminPort'],
  ['--bind <host>', 'interface of the client and control ports', 'LAMBDA_DISPATCH_BindHost'],
] as const;

const camel = (flag: string) => flag.replace(/^--/, '').split(' ')[0]!.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

function withRouterFlags(cmd: Command, except: string[] = []): Command {
  for (const [flag, help, variable] of ROUTER_FLAGS) if (!except.includes(flag)) cmd.option(flag, `${help} [${variable}]`);
  return cmd;
}

function applyRouterFlags(opts: Record<string, unknown>, env: Env): void {
  for (const [flag, , variable] of ROUTER_FLAGS) {
    const v = opts[camel(flag)];
    if (typeof v === 'string') env[variable] = v;
  }
}

export function program(env: Env, run: { exit: (code: number) => void }): Command {
  const cli = new Command('lambda-dispatch')
    .description('A reverse router for AWS Lambda: the function calls back over WebSockets and pulls HTTP requests.')
    .showHelpAfterError()
    .exitOverride();

  withRouterFlags(
    cli
      .command('router')
      .description('Start a router. Every setting is a LAMBDA_DISPATCH_* variable (README: Configuration); the flags set the common ones.'),
  ).action(async (opts: Record<string, unknown>) => {
    applyRouterFlags(opts, env);
    // Loaded on use: `worker` and --help need none of the router.
    const { serveRouter } = await import('../package/router.ts');
    await serveRouter({ defaultBindHost: '0.0.0.0' });
  });

  cli
    .command('worker')
    .description('Run your app as a container worker: permanent capacity the router fills before it invokes Lambda. The shared secret comes from LAMBDA_DISPATCH_WorkerSecret.')
    .option('--router <url>', "the router's control port, wss://host:5003 [LAMBDA_DISPATCH_RouterUrl]")
    .option('--router-cert-sha256 <hex>', "the router certificate's SHA-256, required with wss:// [LAMBDA_DISPATCH_RouterCertSha256]")
    .option('--channels <n>', 'channels kept open (≥ --max-concurrent) [LAMBDA_DISPATCH_ChannelCount]')
    .option('--max-concurrent <n>', 'requests served at once [LAMBDA_DISPATCH_MaxConcurrentCount]')
    .option('--port <port>', 'an app listening on 127.0.0.1:PORT [LAMBDA_DISPATCH_PORT]')
    .option('--health-path <path>', "the app's readiness path (default /health) [LAMBDA_DISPATCH_HEALTH_PATH]")
    .option('--command <command>', 'starts the --port app [LAMBDA_DISPATCH_COMMAND]')
    .option('--module <file>', 'a module whose export is the app (request listener, fetch handler, { fetch } or { port })')
    .option('--export <name>', "the --module's export (default: default)")
    .option('--worker-id <id>', 'this worker\'s name in the router\'s status [LAMBDA_DISPATCH_WorkerId]')
    .option('--function <name>', "the function whose app this is, by its name in the router's LAMBDA_DISPATCH_Routes (default: the router's first) [LAMBDA_DISPATCH_WorkerFunction]")
    .action(async (_opts: unknown, cmd: Command) => {
      // The worker's own parser checks the combinations and the environment's values.
      run.exit(await workerMain(['worker', ...cmd.parent!.args.slice(1)], env));
    });

  withRouterFlags(
    cli
      .command('local')
      .description('Serve a handler module (export: createHandler(app)) through a router and a local Lambda on this machine, no AWS needed.')
      .argument('<handler>', 'the module, e.g. handler.mjs (TypeScript needs tsx installed)')
      .option('--export <name>', "the module's handler export", 'handler')
      .addOption(new Option('--concurrency <n>', 'execution environments at once [LOCAL_LAMBDA_CONCURRENCY]'))
      .addOption(new Option('--memory <mb>', 'memory of each environment [LOCAL_LAMBDA_MEMORY_MB]')),
    ['--bind <host>'],
  ).action(async (handler: string, opts: Record<string, unknown>) => {
    applyRouterFlags(opts, env);
    if (typeof opts.concurrency === 'string') env.LOCAL_LAMBDA_CONCURRENCY = opts.concurrency;
    if (typeof opts.memory === 'string') env.LOCAL_LAMBDA_MEMORY_MB = opts.memory;
    // Internal ports: any free one unless chosen.
    env.LOCAL_LAMBDA_PORT ??= '0';
    env.LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port ??= '0';
    const [{ drainOnSignals }, { describeLocalStack, startLocalStack }] = await Promise.all([import('../package/router.ts'), import('../local/stack.ts')]);
    const stack = await startLocalStack({
      env: { ...env },
      handlerModule: resolve(handler),
      handlerExport: String(opts.export),
      check: { name: handler },
      log: (line) => console.log(line),
    });
    for (const line of describeLocalStack(stack, '/')) console.log(line);
    drainOnSignals(stack.router, stack.config.shutdownGraceMs, (line) => console.log(`stopping: ${line}`), () => stack.lambda.close());
  });
  return cli;
}

/** Runs the CLI on `argv` (without node and the script). Resolves once a command is under way; `exit` ends it. */
export async function main(argv: string[], env: Env = process.env): Promise<void> {
  const cli = program(env, { exit: (code) => process.exit(code) });
  try {
    await cli.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not failures; a usage error is 2, as the worker's own.
      process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version' ? 0 : 2);
    }
    console.error(`lambda-dispatch: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
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

if (isEntry()) await main(process.argv.slice(2));
