// Every answer the router itself gives in place of the function's, in one catalog: a stable code
// (what logs, dashboards and clients key on), the HTTP status and the text a client reads. The
// dispatcher names an error by its code on the response ring; ingress looks the rest up here, so the
// two threads can never disagree on what a failure means. docs/PROTOCOL.md lists them.

export interface RouterErrorDef {
  readonly status: number;
  readonly message: string;
}

export const ROUTER_ERRORS = {
  /** Several functions share the router and none is routed this request (or its selection header's value is not allowed). */
  LD_NO_ROUTE: { status: 404, message: 'no function serves this request' },
  /** The request head cannot be carried by the channel protocol or the ring. */
  LD_HEAD_TOO_LARGE: { status: 431, message: 'request head too large' },
  /** MaxPendingRequests are already waiting for a channel. */
  LD_QUEUE_FULL: { status: 503, message: 'too many requests waiting' },
  /** The request waited IncomingRequestTimeoutMs without a free channel. */
  LD_QUEUE_TIMEOUT: { status: 504, message: 'no function instance became free in time' },
  /** Nothing is open or starting and starts are held back by backoff past the request's deadline. */
  LD_NO_CAPACITY: { status: 503, message: 'the function cannot be started right now' },
  /**
   * The function's last starts failed with a function error (its init failed: a module that does
   * not load, an app that does not become ready…) and nothing is open or starting: the waiting
   * requests are answered now instead of at their queue timeout.
   */
  LD_FUNCTION_START_FAILED: { status: 502, message: 'the function fails to start' },
  /** The router is draining for shutdown and takes no new request. */
  LD_SHUTTING_DOWN: { status: 503, message: 'router is shutting down' },
  /** The instance serving the request went away before answering (and it could not be retried). */
  LD_INSTANCE_LOST: { status: 502, message: 'the function instance went away' },
  /**
   * The instance's invoke ended in a function error (the environment crashed) while serving the
   * request; it is not sent to another environment, which it might crash too.
   */
  LD_INSTANCE_FAILED: { status: 502, message: 'the function failed while serving the request' },
  /** The extension reported that the app could not serve the request. */
  LD_FUNCTION_FAILED: { status: 502, message: 'the function could not serve the request' },
  /** The function answered with a head Node refuses to write (bad header bytes). */
  LD_BAD_RESPONSE_HEAD: { status: 502, message: 'bad response head from the function' },
  /** The function's response broke its own framing (a body shorter or longer than its length, an interim or invalid status). */
  LD_BAD_RESPONSE_FRAMING: { status: 502, message: 'the function sent a malformed response' },
  /** The dispatcher thread is gone: requests in flight get 502. */
  LD_DISPATCHER_LOST: { status: 502, message: 'the router lost its dispatcher' },
  /** The dispatcher thread is gone: requests arriving after that get 503. */
  LD_DISPATCHER_DOWN: { status: 503, message: 'the router lost its dispatcher' },
  /** An upgrade (WebSocket) request, and the function's extension predates tunnels: redeploy it. */
  LD_UPGRADE_UNSUPPORTED: { status: 501, message: 'the function cannot take protocol upgrades (its lambda-dispatch extension is older than the router)' },
} as const satisfies Record<string, RouterErrorDef>;

export type RouterErrorCode = keyof typeof ROUTER_ERRORS;

/** Response header naming the code, so a client can tell the router's answer from the app's. */
export const ERROR_CODE_HEADER = 'x-lambda-dispatch-error';

export function isRouterErrorCode(code: string): code is RouterErrorCode {
  return Object.hasOwn(ROUTER_ERRORS, code);
}

/** The catalog entry of a code from the ring; an unknown one (a version skew) is a plain 502. */
export function routerError(code: string): RouterErrorDef & { code: string } {
  return isRouterErrorCode(code) ? { code, ...ROUTER_ERRORS[code] } : { code, status: 502, message: 'router error' };
}
