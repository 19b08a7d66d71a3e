// `npm run build`: the two artifacts a deployment runs, bundled with esbuild so that they start
// with `node` alone (no tsx, no node_modules):
//   dist/router/main.js + dispatcher-thread.js   the router (what infra/router.Dockerfile copies)
//   dist/router/dashboard/                       the admin listener's dashboard page and uPlot
//   dist/lambda/index.mjs                        the function, exporting `handler`
//   dist/cli.mjs                                 `lambda-dispatch worker` (the package's bin)
// Your own function: `npm run build -- --lambda path/to/your-function.ts` (a module whose
// `handler` export is createHandler(app)); `--outdir DIR` writes somewhere other than dist/.

import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { ASSETS } from '../ingress/dashboard/dashboard.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// The bundles are ESM, but some dependencies are CommonJS and call require() for Node's modules.
const REQUIRE_SHIM = `import { createRequire as __ldCreateRequire } from 'node:module'; const require = __ldCreateRequire(import.meta.url);`;

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  banner: { js: REQUIRE_SHIM },
  // ws loads these native accelerators if present and works without them.
  external: ['bufferutil', 'utf-8-validate'],
  logLevel: 'warning',
  legalComments: 'none',
} satisfies esbuild.BuildOptions;

export interface BuildOptions {
  /** Default dist/ at the app root. */
  outdir?: string;
  /** The function's module; default demo/function.ts. */
  lambdaEntry?: string;
}

export interface BuildResult {
  routerMain: string;
  routerThread: string;
  lambda: string;
  cli: string;
  /** Source files the router bundle was made from, relative to the app root (what the image's build context must hold). */
  routerInputs: string[];
}

export async function build(o: BuildOptions = {}): Promise<BuildResult> {
  const outdir = path.resolve(o.outdir ?? path.join(ROOT, 'dist'));
  const routerDir = path.join(outdir, 'router');
  const lambdaDir = path.join(outdir, 'lambda');
  rmSync(routerDir, { recursive: true, force: true });
  rmSync(lambdaDir, { recursive: true, force: true });
  const cli = path.join(outdir, 'cli.mjs');

  const [router] = await Promise.all([
    esbuild.build({
      ...common,
      metafile: true,
      entryPoints: {
        main: path.join(ROOT, 'infra/router/main.ts'),
        'dispatcher-thread': path.join(ROOT, 'core/dispatcher/thread.ts'),
      },
      outdir: routerDir,
    }),
    esbuild.build({
      ...common,
      entryPoints: [path.resolve(o.lambdaEntry ?? path.join(ROOT, 'demo/function.ts'))],
      outfile: path.join(lambdaDir, 'index.mjs'),
    }),
    // The entry's hashbang is kept on the first line, above the banner.
    esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'extension/cli.ts')], outfile: cli }),
  ]);
  // .js files are ESM only under a package.json that says so; the image copies this directory alone.
  mkdirSync(routerDir, { recursive: true });
  writeFileSync(path.join(routerDir, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
  // The dashboard's files are read at run time, not bundled: dashboard.ts looks in dashboard/ beside main.js.
  mkdirSync(path.join(routerDir, 'dashboard'), { recursive: true });
  for (const asset of ASSETS.values()) copyFileSync(asset.source(), path.join(routerDir, 'dashboard', asset.bundled));
  return {
    routerMain: path.join(routerDir, 'main.js'),
    routerThread: path.join(routerDir, 'dispatcher-thread.js'),
    lambda: path.join(lambdaDir, 'index.mjs'),
    cli,
    routerInputs: Object.keys(router.metafile.inputs).map((p) => path.relative(ROOT, path.resolve(p))),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' }, lambda: { type: 'string' } } });
  const started = Date.now();
  const out = await build({
    ...(values.outdir ? { outdir: values.outdir } : {}),
    ...(values.lambda ? { lambdaEntry: values.lambda } : {}),
  });
  const rel = (p: string) => path.relative(process.cwd(), p);
  console.log(`built in ${Date.now() - started} ms: ${rel(out.routerMain)}, ${rel(out.routerThread)}, ${rel(out.lambda)}, ${rel(out.cli)}`);
}
