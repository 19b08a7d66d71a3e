// The kinds of app createHandler and the container worker accept, told apart here: a Node request
// listener `(req, res)` or an http.Server (not listening: the extension does that, and its
// 'upgrade' listeners take WebSockets), a fetch handler `(request) => Response` (or an object with a `fetch`
// method), adapted to a request listener — both served in-process (listener-target.ts) — and
// `{ port, command? }`, an app listening on its own (port-target.ts).

import http from 'node:http';
import { ListenerTarget } from './listener-target.ts';
import { PortTarget } from './port-target.ts';
import type { AppRegistry } from './registry.ts';
import type { AppTarget, TargetSettings } from './target.ts';
import type { App, FetchHandler, PortApp } from '../types.ts';

export function appTarget(app: App, settings: TargetSettings, registry: AppRegistry): AppTarget {
  const idle = settings.keepAliveIdleMs;
  // The app's own server, with its 'upgrade' listeners (WebSocketServer({ server }), socket.io…).
  if (app instanceof http.Server) return new ListenerTarget(registry, app, 'in-process http.Server');
  if (typeof app === 'function') {
    // One declared parameter: `(request) => Response`. Two or more: `(req, res[, next])`.
    if (app.length === 1) return new ListenerTarget(registry, registry.listenerFor(app as FetchHandler, app), 'in-process fetch handler', false);
    return new ListenerTarget(registry, app as http.RequestListener);
  }
  if (app !== null && typeof app === 'object') {
    const fetch = (app as { fetch?: unknown }).fetch;
    if (typeof fetch === 'function') {
      const listener = registry.listenerFor((req) => (fetch as FetchHandler).call(app, req), app);
      return new ListenerTarget(registry, listener, 'in-process fetch handler', false);
    }
    if (typeof (app as { callback?: unknown }).callback === 'function') {
      throw new TypeError('lambda-dispatch: createHandler got a Koa app: pass app.callback(), its request listener');
    }
    const known = new Set(['port', 'host', 'healthPath', 'command', 'cwd']);
    const unknown = Object.keys(app).filter((k) => !known.has(k));
    if (unknown.length === 0) return new PortTarget(registry, app as PortApp, settings.healthIntervalMs, idle, settings);
  }
  throw new TypeError(
    'lambda-dispatch: createHandler needs a request listener (req, res) => void, an http.Server, a fetch handler (request) => Response, an object with a fetch method, or { port }',
  );
}
