// One execution environment: a piscina worker thread. The first task it gets runs the init (load
// the handler module once, then the extra initMs); every task runs one invocation. Between tasks
// piscina parks the thread in Atomics.wait, so the handler's leftover timers and sockets do not
// progress until the next invocation, much like Lambda freezing an environment.
//
// Loaded by piscina, which first tries require() and then import(); this file therefore avoids
// top-level await and import.meta so that either way of loading it works under tsx.

import { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { toFunctionError } from './errors.ts';
import type { FunctionErrorBody } from './errors.ts';
import { MESSAGE_TAG } from './protocol.ts';
import type { EnvironmentConfig, EnvironmentMessage, InvocationResult, InvocationTask } from './protocol.ts';

type Callback = (err?: unknown, result?: unknown) => void;
type Handler = (event: unknown, context: LambdaContext, callback?: Callback) => unknown;

export interface LambdaContext {
  awsRequestId: string;
  functionName: string;
  functionVersion: string;
  memoryLimitInMB: string;
  invokedFunctionArn: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  clientContext?: unknown;
  getRemainingTimeInMillis(): number;
}

const config = workerData as EnvironmentConfig;

let envId: string | undefined;
let logStreamName = '';
let handler: Handler | undefined;

export default async function invoke(task: InvocationTask): Promise<InvocationResult> {
  const cold = envId === undefined;
  if (envId === undefined) {
    envId = createIdentity();
    await givePort();
  }
  post({ tag: MESSAGE_TAG, kind: 'begin', requestId: task.requestId, envId, threadId, cold });

  let initDurationMs = 0;
  if (handler === undefined) {
    const t0 = performance.now();
    const loaded = await loadHandler();
    initDurationMs = performance.now() - t0;
    if ('error' in loaded) {
      const failed = envId;
      // Lambda discards an environment whose init failed; the next invocation here is a new one.
      envId = undefined;
      return { ok: false, error: loaded.error, fatal: true, envId: failed, threadId, cold, initDurationMs, durationMs: 0 };
    }
    handler = loaded.handler;
  }

  if (task.initOnly) return { ok: true, body: 'null', envId, threadId, cold, initDurationMs, durationMs: 0 };
  const deadline = Date.now() + config.timeoutS * 1000;
  post({ tag: MESSAGE_TAG, kind: 'invoke', requestId: task.requestId, deadline });
  const t0 = performance.now();
  const base = { envId, threadId, cold, initDurationMs };
  try {
    const event: unknown = JSON.parse(task.payload);
    const value = await callHandler(handler, event, makeContext(task, deadline));
    // JSON.stringify(undefined) is undefined; Lambda answers `null` then.
    const body = JSON.stringify(value) ?? 'null';
    return { ok: true, body, ...base, durationMs: performance.now() - t0 };
  } catch (err) {
    return { ok: false, error: toFunctionError(err), fatal: false, ...base, durationMs: performance.now() - t0 };
  }
}

/** Names this environment and sets the variables Lambda gives a function, before user code loads. */
function createIdentity(): string {
  const id = `env-${Atomics.add(config.envCounter, 0, 1) + 1}`;
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  logStreamName = `${day}/[$LATEST]${id}`;
  // A worker thread has its own copy of process.env, so these are per environment.
  Object.assign(process.env, config.env, {
    AWS_LAMBDA_FUNCTION_NAME: config.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${config.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${process.versions.node.split('.')[0]}.x`,
  });
  return id;
}

/**
 * On Lambda every environment has its own network, so an app on a fixed port never meets another
 * environment's. Here they all share this machine's: each environment gets its own free port as
 * LAMBDA_DISPATCH_PORT (the `{ port }` default of the extension) and PORT (what the extension, and
 * Lambda Web Adapter-style apps, read), so an app that takes its port from there runs unchanged.
 */
async function givePort(): Promise<void> {
  const port = await new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
  process.env.LAMBDA_DISPATCH_PORT = String(port);
  process.env.PORT = String(port);
}

/**
 * Every child process this environment starts is reported to the service, which ends it (and its
 * process group) with the environment: a terminated thread cannot clean up after itself. Every
 * child_process function goes through ChildProcess.prototype.spawn, and a worker thread has its own
 * copy of the module, so this sees exactly this environment's children.
 */
function trackChildProcesses(): void {
  const proto = ChildProcess.prototype as unknown as { spawn(this: ChildProcess, options: { detached?: boolean }): unknown };
  const spawn = proto.spawn;
  proto.spawn = function (this: ChildProcess, options: { detached?: boolean }) {
    const result = spawn.call(this, options);
    const pid = this.pid;
    if (pid !== undefined) {
      // detached: the child leads a process group of its own (setsid), signalled whole.
      post({ tag: MESSAGE_TAG, kind: 'process', threadId, pid, group: options?.detached === true && process.platform !== 'win32' });
      this.once('exit', () => post({ tag: MESSAGE_TAG, kind: 'process-exit', threadId, pid }));
    }
    return result;
  };
}
trackChildProcesses();

async function loadHandler(): Promise<{ handler: Handler } | { error: FunctionErrorBody }> {
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(config.handlerUrl);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND') {
      return { error: { errorType: 'Runtime.ImportModuleError', errorMessage: `Error: ${(err as Error).message}`, trace: [] } };
    }
    return { error: toFunctionError(err) };
  }
  const candidate = mod[config.handlerExport];
  if (typeof candidate !== 'function') {
    return {
      error: {
        errorType: 'Runtime.HandlerNotFound',
        errorMessage: `${config.handlerUrl}.${config.handlerExport} is undefined or not exported`,
        trace: [],
      },
    };
  }
  if (config.initMs > 0) await sleep(config.initMs);
  return { handler: candidate as Handler };
}

async function importModule(url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    // On Node 20, tsx registers its ESM hooks on the main thread only (workers inherit
    // `--import tsx` but it skips them), so TypeScript is loaded through tsx's scoped API here.
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, url)) as Record<string, unknown>;
  }
}

function callHandler(fn: Handler, event: unknown, context: LambdaContext): Promise<unknown> {
  // Three declared parameters means a callback-style handler (supported by Lambda up to Node 22).
  if (fn.length < 3) return Promise.resolve().then(() => fn(event, context));
  return new Promise((resolve, reject) => {
    const callback: Callback = (err, result) => (err != null ? reject(err) : resolve(result));
    const returned = fn(event, context, callback) as { then?: unknown } | undefined;
    if (returned && typeof returned.then === 'function') (returned as Promise<unknown>).then(resolve, reject);
  });
}

function makeContext(task: InvocationTask, deadline: number): LambdaContext {
  return {
    awsRequestId: task.requestId,
    functionName: config.functionName,
    functionVersion: '$LATEST',
    memoryLimitInMB: String(config.memoryMb),
    invokedFunctionArn: config.functionArn,
    logGroupName: `/aws/lambda/${config.functionName}`,
    logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    ...(task.clientContext !== undefined ? { clientContext: task.clientContext } : {}),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function post(message: EnvironmentMessage): void {
  parentPort?.postMessage(message);
}
