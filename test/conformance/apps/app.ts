// The shape every conformance app module exports: how to serve it on its own (the direct baseline,
// and the process of the `{ port, command }` mode), what createHandler() is given for the
// in-process mode, and which of the optional routes the framework can serve.

import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { App } from '../../../extension/handler.ts';

export interface ConformanceApp {
  /** Short name, also the argument of serve.ts: express4, express5, koa, fastify, hono. */
  name: string;
  /** Framework and version, as installed. */
  label: string;
  /** Serves the app with the framework's own server on host:port (0: any free port). */
  listen(port: number, host: string): Promise<Server>;
  /** What `createHandler` is given: a request listener or a fetch handler. */
  handlerApp(): Promise<App>;
  /** GET /trailers and GET /early-hints exist (the framework can send trailers and 103). */
  trailers: boolean;
  earlyHints: boolean;
  /** The framework's own server sends the reason phrase the app set (@hono/node-server does not). */
  directKeepsReason: boolean;
}

/** The installed version of a package (read from its package.json: some do not export it). */
export function installedVersion(pkg: string): string {
  const file = new URL(`../../../node_modules/${pkg}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export function listening(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
