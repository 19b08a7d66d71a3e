// The contract between the router and the extension outside the frames themselves: the invoke
// payload, what the handler returns, and how a channel introduces itself. docs/PROTOCOL.md describes all of it.

export const CHANNEL_PATH = '/v1/channel';
export const INSTANCE_HEADER = 'x-lambda-dispatch-instance-id';
export const CHANNEL_HEADER = 'x-lambda-dispatch-channel';
/** Container workers (permanent capacity) introduce themselves with these instead of an instance id. */
export const WORKER_HEADER = 'x-lambda-dispatch-worker-id';
export const MAX_CONCURRENT_HEADER = 'x-lambda-dispatch-max-concurrent';
/**
 * A worker's upgrade, optional: the function (by its name in LAMBDA_DISPATCH_Routes) whose app the
 * worker runs. Absent: the router's first function.
 */
export const FUNCTION_HEADER = 'x-lambda-dispatch-function';
/** On a channel's upgrade: "1" when this invocation is its environment's first (a cold start). Optional. */
export const COLD_START_HEADER = 'x-lambda-dispatch-cold-start';

/**
 * In the router's 101 answer to a channel's upgrade: the optional parts of the channel protocol it
 * understands, comma-separated (docs/PROTOCOL.md, "Versions"). An extension uses a feature on a
 * channel only when the router named it there, so an older router (which names none) is never sent
 * a frame or field it would misread, and an older extension (which ignores the header) sends none.
 */
export const FEATURES_HEADER = 'x-lambda-dispatch-features';

export type ChannelFeature =
  /** RES_INFO frames: informational (1xx) responses before the final head */
  | 'info'
  /** RES_END with a trailer header list */
  | 'trailers'
  /** RES_HEAD / RES_INFO with FLAG_REASON: the app's reason phrase */
  | 'reason'
  /** LOAD frames: the environment's load, once a second */
  | 'load'
  /** A worker's FUNCTION_HEADER is honoured (an older router would put the worker in its first function's fleet) */
  | 'function'
  /**
   * The channel is multiplexed: several requests at once, bodies paced by CREDIT frames both ways
   * (docs/PROTOCOL.md, "Multiplexed channels"). Announced only to an extension that named it, so
   * a channel is multiplexed exactly when the router's answer names it.
   */
  | 'mux';

/** Every feature this code understands: what the router announces (`mux` only where it was asked for). */
export const CHANNEL_FEATURES: readonly ChannelFeature[] = ['info', 'trailers', 'reason', 'load', 'function', 'mux'];

/**
 * What an extension names in the same header of its upgrade request: the router → extension
 * frames it understands. The router sends such a frame only to an extension that named it.
 */
export type ExtensionFeature =
  /** CHANNELS frames: hold as many channels as the router says (they follow the learned limit) */
  | 'channels'
  /** REQ_HEAD with FLAG_UPGRADE: protocol upgrades (WebSockets) relayed as tunnels */
  | 'upgrade'
  /** Several requests at once on one channel, with CREDIT frames (the router answers `mux` to accept) */
  | 'mux';

/**
 * Body bytes either end of a multiplexed channel may send of one request before the other credits
 * any (docs/PROTOCOL.md, "Multiplexed channels"). A window per request, not per channel: a slow
 * client or app holds back only its own request. A stream's speed is at most a window per credit
 * round trip, so it is as large as a ring window and the TCP buffers behind it were before.
 */
export const MUX_WINDOW_BYTES = 1024 * 1024;

/**
 * Credit is sent once this much is owed (a quarter window), not per chunk: fewer frames, and never
 * a stall, since a sender out of credit has a whole window owed to it.
 */
export const MUX_CREDIT_BATCH = MUX_WINDOW_BYTES / 4;

/** Every extension feature this code understands: what the extension announces. */
export const EXTENSION_FEATURES: readonly ExtensionFeature[] = ['channels', 'upgrade', 'mux'];

/** The features named in a FEATURES_HEADER value that are among `known` (others are ignored). */
export function parseFeatures<F extends string>(value: string | string[] | undefined, known: readonly F[]): Set<F> {
  const out = new Set<F>();
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  for (const token of joined.split(',')) {
    const t = token.trim().toLowerCase();
    if ((known as readonly string[]).includes(t)) out.add(t as F);
  }
  return out;
}

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
  /** WebSocket channels the instance may hold at most (one request at a time each). */
  channels: number;
  /**
   * Channels to open at first, 1 … channels; the router asks for more or fewer as it learns the
   * instance's limit (CHANNELS frames). Absent: open all `channels` and keep them.
   */
  openChannels?: number;
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
