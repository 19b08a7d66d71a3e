// What crosses the thread boundary between the service (parent) and an execution environment
// (piscina worker). Kept apart so both sides import the same shapes without loading each other.

import type { FunctionErrorBody } from './errors.ts';

/** Static per-service settings, given to every environment through piscina's `workerData`. */
export interface EnvironmentConfig {
  /** file: URL of the user's handler module. */
  handlerUrl: string;
  handlerExport: string;
  functionName: string;
  functionArn: string;
  region: string;
  memoryMb: number;
  timeoutS: number;
  initMs: number;
  env: Record<string, string>;
  /** Int32Array over a SharedArrayBuffer: the next environment number, shared by all workers. */
  envCounter: Int32Array;
}

export interface InvocationTask {
  requestId: string;
  /** The invoke payload as JSON text; already validated by the service. */
  payload: string;
  clientContext?: unknown;
  /** Only initialise the environment (load the handler module, check its export); the handler is not called. */
  initOnly?: boolean;
}

interface ResultBase {
  envId: string;
  threadId: number;
  /** This invocation ran the environment's init (module load + initMs). */
  cold: boolean;
  initDurationMs: number;
  durationMs: number;
}

export type InvocationResult =
  | (ResultBase & { ok: true; body: string })
  // `fatal`: the environment cannot serve again (init failed) and must be discarded, as Lambda does.
  | (ResultBase & { ok: false; error: FunctionErrorBody; fatal: boolean });

/**
 * Posted on the worker's parentPort (surfaced as piscina's 'message' event): `begin` when a task
 * reaches an environment (so the service can map env ids to running invocations), `invoke` when
 * the handler is called (so the function timeout counts from there, not from the init), `process`
 * and `process-exit` for every child process (environment-pool.ts ends them with the environment).
 */
export type EnvironmentMessage =
  | { tag: typeof MESSAGE_TAG; kind: 'begin'; requestId: string; envId: string; threadId: number; cold: boolean }
  | { tag: typeof MESSAGE_TAG; kind: 'invoke'; requestId: string; deadline: number }
  // A child process the environment started (any spawn, the app of a `{ port, command }` handler
  // among them) and its end: the service ends whatever is left of it with the environment.
  | { tag: typeof MESSAGE_TAG; kind: 'process'; threadId: number; pid: number; group: boolean }
  | { tag: typeof MESSAGE_TAG; kind: 'process-exit'; threadId: number; pid: number };

export const MESSAGE_TAG = 'local-lambda-environment';

export function isEnvironmentMessage(value: unknown): value is EnvironmentMessage {
  return typeof value === 'object' && value !== null && (value as { tag?: unknown }).tag === MESSAGE_TAG;
}
