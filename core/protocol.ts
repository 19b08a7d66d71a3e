// The contract between the router and the extension outside the frames themselves: the invoke
// payload, what the handler returns, and how a channel introduces itself. docs/PROTOCOL.md describes all of it.

export const CHANNEL_PATH = '/v1/channel';
export const INSTANCE_HEADER = 'x-lambda-dispatch-instance-id';
export const CHANNEL_HEADER = 'x-lambda-dispatch-channel';
/** Container workers (permanent capacity) introduce themselves with these instead of an instance id. */
export const WORKER_HEADER = 'x-lambda-dispatch-worker-id';
export const MAX_CONCURRENT_HEADER = 'x-lambda-dispatch-max-concurrent';

/** The invoke payload (router → Lambda), version 1. */
export interface InvokePayload {
  v: 1;
  /** e.g. `wss://10.0.0.5:5003`; channels open at `${routerUrl}/v1/channel`. */
  routerUrl: string;
  /**
   * With a `wss://` routerUrl (then required): SHA-256 of the DER of the router's certificate, 64
   * lower-case hex digits. The extension refuses any other certificate before sending the token.
   */
  certSha256?: string;
  instanceId: string;
  token: string;
  /** WebSocket channels to open (one request at a time each). */
  channels: number;
  /** Requests served at once across all channels. */
  maxConcurrent: number;
  /** Get the app ready, open no channel, return at once (pre-warming). */
  initOnly?: boolean;
}

/** Why an invocation ended. */
export type ExitReason = 'goaway' | 'deadline' | 'router-lost' | 'connect-failed' | 'init-only' | 'app-failed';

/** What the handler returns (the invoke's result). */
export interface InvocationResult {
  instanceId: string;
  /** Requests accepted and handed to the app during this invocation. */
  requests: number;
  durationMs: number;
  exitReason: ExitReason;
  /** What went wrong, for 'connect-failed' and 'app-failed'. */
  error?: string;
}
