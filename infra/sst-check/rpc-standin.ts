// A stand-in for the SST CLI's local RPC server (SST_SERVER), which SST's components call while
// the program runs: the bootstrap bucket and ECR repository of the region and the realtime
// endpoints (both looked up in AWS by the real CLI), and the function build. The build is real:
// esbuild with the options SST's Node runtime uses, so a handler that does not bundle fails here.

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ACCOUNT, REGION } from './aws-mocks.ts';

export interface RpcCall {
  method: string;
  args: Record<string, unknown>;
}

export interface RpcStandIn {
  url: string;
  calls: RpcCall[];
  close(): Promise<void>;
}

export interface Bundler {
  build(options: Record<string, unknown>): Promise<{ errors: { text: string }[] }>;
}

const HANDLER_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs', '.cjs', '.jsx'];
const ESM_BANNER = [
  `import { createRequire as topLevelCreateRequire } from 'module';`,
  `const require = topLevelCreateRequire(import.meta.url);`,
  `import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"`,
  `const __filename = topLevelFileUrlToPath(import.meta.url)`,
  `const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
].join('\n');

export async function startRpcStandIn(o: { root: string; work: string; bundler: Bundler }): Promise<RpcStandIn> {
  const calls: RpcCall[] = [];

  const methods: Record<string, (args: Record<string, unknown>) => Promise<unknown>> = {
    'Provider.Aws.Bootstrap': async () => ({
      asset: `sst-asset-${ACCOUNT}`,
      assetEcrRegistryId: ACCOUNT,
      assetEcrUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/sst-asset`,
      state: `sst-state-${ACCOUNT}`,
      appsyncHttp: `check.appsync-api.${REGION}.amazonaws.com`,
      appsyncRealtime: `check.appsync-realtime-api.${REGION}.amazonaws.com`,
    }),
    'Provider.Aws.Appsync': async () => ({
      http: `check.appsync-api.${REGION}.amazonaws.com`,
      realtime: `check.appsync-realtime-api.${REGION}.amazonaws.com`,
    }),
    'Runtime.AddTarget': async () => ({}),
    'Runtime.Build': (args) => build(args),
  };

  async function build(args: Record<string, unknown>) {
    const functionID = String(args.functionID);
    const handler = String(args.handler);
    if (typeof args.bundle === 'string' && args.bundle) {
      const out = path.resolve(o.root, args.bundle);
      const errors = existsSync(out) ? [] : [`bundle directory ${out} does not exist (run npm run build first)`];
      return { handler, out, errors, sourcemaps: [] };
    }
    // "path/to/module.export": the module is everything before the last dot.
    const dot = handler.lastIndexOf('.');
    const modulePath = handler.slice(0, dot);
    const file = HANDLER_EXTENSIONS.map((ext) => path.join(o.root, modulePath + ext)).find((f) => existsSync(f));
    if (!file) return { handler, out: '', errors: [`Handler not found: ${handler}`], sourcemaps: [] };
    const rel = path.relative(o.root, file);
    const target = path.join(path.dirname(rel), path.basename(rel, path.extname(rel)).replaceAll('.', '-'));
    const out = path.join(o.work, 'artifacts', `${functionID}-src`);
    const result = await o.bundler.build({
      entryPoints: [file],
      platform: 'node',
      format: 'esm',
      target: 'esnext',
      bundle: true,
      keepNames: true,
      mainFields: ['module', 'main'],
      external: ['sharp', 'pg-native'],
      outfile: path.join(out, target + '.mjs'),
      sourcemap: false,
      banner: { js: ESM_BANNER },
      logLevel: 'silent',
    });
    return { handler: target + handler.slice(dot), out, errors: result.errors.map((e) => e.text), sourcemaps: [] };
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = JSON.parse(await readBody(req)) as { method: string; params: [Record<string, unknown>] };
      calls.push({ method: body.method, args: body.params[0] });
      const method = methods[body.method];
      let reply: { result?: unknown; error?: string };
      if (!method) reply = { error: `rpc: can't find method ${body.method}` };
      else {
        try {
          reply = { result: await method(body.params[0]) };
        } catch (err) {
          reply = { error: err instanceof Error ? err.message : String(err) };
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: null, ...reply }));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
