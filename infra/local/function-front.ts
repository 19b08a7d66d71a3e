// Several local Lambdas behind one endpoint, as AWS's Lambda API serves every function of an
// account at one address: an invoke is passed, as it is, to the local Lambda serving the function
// its path names; any other name answers 404 ResourceNotFoundException, as Lambda does. A router
// with several functions (LAMBDA_DISPATCH_Routes) points AWS_ENDPOINT_URL_LAMBDA here.

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;

export interface FunctionFront {
  url: string;
  close(): Promise<void>;
}

/** `targets`: function name → the URL of the local Lambda that serves it. */
export async function startFunctionFront(targets: Record<string, string>): Promise<FunctionFront> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const named = decodeURIComponent(INVOKE_PATH.exec(url.pathname)?.[1] ?? '');
    // A name, or an ARN (…:function:NAME[:qualifier]).
    const name = named.includes(':function:') ? named.split(':function:')[1]!.split(':')[0]! : named.split(':')[0]!;
    const target = Object.hasOwn(targets, name) ? targets[name] : undefined;
    if (target === undefined) {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
      return void res.end(JSON.stringify({ Type: 'User', message: `Function not found: ${named}` }));
    }
    const upstream = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
