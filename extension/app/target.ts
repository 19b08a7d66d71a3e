// What the rest of the extension sees of the app, whatever its kind (kinds.ts): a target that gets
// ready, takes requests and may exit. Only interfaces live here, so that the channel, direct mode
// and the transports can all depend on them without depending on each other.

import http from 'node:http';
import type { Readable } from 'node:stream';
import type { ReadinessSettings } from './readiness.ts';

export interface AppTarget {
  /** For messages: `listener` or `127.0.0.1:3001`. */
  readonly description: string;
  /** Resolves once requests can be sent; rejects with a clear message when the app cannot be reached in time. */
  ready(timeoutMs: number): Promise<void>;
  /** A request to the app. `headers` is the flat [name, value, …] form, repeats kept. */
  request(method: string, path: string, headers: string[]): AppRequest;
  /**
   * A protocol upgrade (a WebSocket) to the app, over a connection of its own: http.ClientRequest
   * emits 'upgrade' for a 101 and 'response' for any other answer. Absent when the app kind has
   * no way to take one (a fetch handler).
   */
  upgrade?(method: string, path: string, headers: string[]): http.ClientRequest;
  /** Calls `listener` if the app's process exits (only `command` apps have one); returns the unsubscribe. */
  onExit(listener: (why: string) => void): () => void;
}

/**
 * A request on its way to the app: an http.ClientRequest (`{ port }` apps) or an in-memory
 * request into an in-process listener (transport/pool.ts). What the channel and direct mode use of it.
 */
export interface AppRequest {
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  destroy(): unknown;
  /** The request went out on a pooled connection (which the app may have closed meanwhile). */
  readonly reusedSocket: boolean;
  on(event: 'response', listener: (res: AppResponse) => void): unknown;
  /** An informational (1xx, not 101) response before the final one, as http.ClientRequest reports it. */
  on(event: 'information', listener: (info: AppInformation) => void): unknown;
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/** The app's response: an http.IncomingMessage, or transport/pool.ts's MemoryResponse. */
export type AppResponse = Readable & {
  statusCode?: number | undefined;
  statusMessage?: string | undefined;
  rawHeaders: string[];
  /** The trailer fields of a chunked body, flat; complete once the response has ended. */
  rawTrailers: string[];
  complete: boolean;
};

/** An informational response (the fields of http.ClientRequest's 'information' event used). */
export interface AppInformation {
  statusCode: number;
  statusMessage: string;
  rawHeaders: string[];
}

/**
 * An upgrade request on a fresh loopback connection: an upgraded connection belongs to its socket
 * for good, so it never comes from (or goes back to) a pool.
 */
export function upgradeRequest(host: string, port: number, method: string, path: string, headers: string[]): http.ClientRequest {
  return http.request({ host, port, method, path, headers, agent: false });
}

export interface TargetSettings extends ReadinessSettings {
  healthIntervalMs: number;
  keepAliveIdleMs: number;
}
