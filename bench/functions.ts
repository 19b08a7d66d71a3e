// The two Lambda functions the bench runs, bundled with esbuild into plain ESM as they would be
// deployed: the demo app behind lambda-dispatch (bench/router-function.ts) and the same app as a plain
// Function URL handler (bench/direct-function.ts). A bundled module loads in an environment
// without TypeScript compilation, so a local cold start costs its configured init delay plus
// module loading, as on Lambda, rather than a TypeScript compile per environment.

import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Inside node_modules so that the bundles' external packages (ws, the AWS SDK) resolve. */
export const BUILD_DIR = fileURLToPath(new URL('../node_modules/.cache/lambda-dispatch-bench/', import.meta.url));

export interface BuiltFunctions {
  /** bench/router-function.ts: createHandler(demoApp) (its log to /dev/null), for the router. */
  router: string;
  /** bench/direct-function.ts: urlEventHandler(demoApp), for direct mode. */
  direct: string;
}

export async function buildFunctions(): Promise<BuiltFunctions> {
  mkdirSync(BUILD_DIR, { recursive: true });
  const entries = { router: 'bench/router-function.ts', direct: 'bench/direct-function.ts' } as const;
  await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [`${k}-function`, v])),
    outdir: BUILD_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return { router: `${BUILD_DIR}router-function.mjs`, direct: `${BUILD_DIR}direct-function.mjs` };
}
