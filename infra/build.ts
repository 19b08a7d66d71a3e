// `npm run build`: the two artifacts a deployment runs, bundled with esbuild so that they start
// with `node` alone (no tsx, no node_modules), and the package's entries:
//   dist/router/main.js + dispatcher-thread.js   the router (what infra/router.Dockerfile copies)
//   dist/router/index.js                         lambda-dispatch/router: the same router in code
//   dist/router/dashboard/                       the admin listener's dashboard page and uPlot
//   dist/router/Dockerfile                       the package's router image (infra/router-package.Dockerfile)
//   dist/lambda/index.mjs                        the function, exporting `handler`
//   dist/cli.mjs, extension.mjs, sst/, types/    the bin and the other entries (infra/package/build.ts)
// Your own function: `npm run build -- --lambda path/to/your-function.ts` (a module whose
// `handler` export is createHandler(app)); `--outdir DIR` writes somewhere other than dist/;
// `--router-only` writes dist/router/ alone (the image's build stage).

import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { ASSETS } from '../ingress/dashboard/dashboard.ts';
import { buildPackage, type PackageBuild } from './package/build.ts';

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

export interface RouterBuild {
  routerMain: string;
  routerThread: string;
  /** Source files the router bundle was made from, relative to the app root (what the image's build context must hold). */
  routerInputs: string[];
}

export interface BuildResult extends RouterBuild {
  lambda: string;
  cli: string;
  package: PackageBuild;
}

export async function build(o: BuildOptions = {}): Promise<BuildResult> {
  const outdir = path.resolve(o.outdir ?? path.join(ROOT, 'dist'));
  const lambdaDir = path.join(outdir, 'lambda');
  rmSync(lambdaDir, { recursive: true, force: true });
  const [router, , pkg] = await Promise.all([
    buildRouter(outdir),
    esbuild.build({
      ...common,
      entryPoints: [path.resolve(o.lambdaEntry ?? path.join(ROOT, 'demo/function.ts'))],
      outfile: path.join(lambdaDir, 'index.mjs'),
    }),
    buildPackage(outdir),
  ]);
  return { ...router, lambda: path.join(lambdaDir, 'index.mjs'), cli: pkg.cli, package: pkg };
}

/** dist/router/ alone: what the image's build stage makes (its context holds only the router's sources). */
export async function buildRouter(outdir: string): Promise<RouterBuild> {
  const routerDir = path.join(outdir, 'router');
  rmSync(routerDir, { recursive: true, force: true });
  const router = await esbuild.build({
    ...common,
    metafile: true,
    // main.js (the container), index.js (lambda-dispatch/router) and the thread share chunks,
    // which sit beside them so that the dashboard's files are found from any of them.
    splitting: true,
    chunkNames: '[name]-[hash]',
    entryPoints: {
      main: path.join(ROOT, 'infra/router/main.ts'),
      'dispatcher-thread': path.join(ROOT, 'core/dispatcher/thread.ts'),
      index: path.join(ROOT, 'infra/package/router.ts'),
    },
    outdir: routerDir,
  });
  // .js files are ESM only under a package.json that says so; the image copies this directory alone.
  writeFileSync(path.join(routerDir, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
  // The dashboard's files are read at run time, not bundled: dashboard.ts looks in dashboard/ beside main.js.
  mkdirSync(path.join(routerDir, 'dashboard'), { recursive: true });
  for (const asset of ASSETS.values()) copyFileSync(asset.source(), path.join(routerDir, 'dashboard', asset.bundled));
  copyFileSync(path.join(ROOT, 'infra/router-package.Dockerfile'), path.join(routerDir, 'Dockerfile'));
  // SST adds `.sst` to the context's .dockerignore when it lacks the line; this one has it, so
  // nothing is written inside node_modules.
  writeFileSync(path.join(routerDir, '.dockerignore'), 'Dockerfile\n.dockerignore\n.sst\n');
  return {
    routerMain: path.join(routerDir, 'main.js'),
    routerThread: path.join(routerDir, 'dispatcher-thread.js'),
    routerInputs: Object.keys(router.metafile.inputs).map((p) => path.relative(ROOT, path.resolve(p))),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' }, lambda: { type: 'string' }, 'router-only': { type: 'boolean' } } });
  const started = Date.now();
  const outdir = path.resolve(values.outdir ?? path.join(ROOT, 'dist'));
  let files: string[];
  if (values['router-only']) {
    const out = await buildRouter(outdir);
    files = [out.routerMain, out.routerThread];
  } else {
    const out = await build({ outdir, ...(values.lambda ? { lambdaEntry: values.lambda } : {}) });
    files = [out.routerMain, out.routerThread, out.lambda, out.cli];
  }
  const rel = (p: string) => path.relative(process.cwd(), p);
  console.log(`built in ${Date.now() - started} ms: ${files.map(rel).join(', ')}`);
}
