// The package's library entries and bin, built by `npm run build` next to the router bundle:
//   dist/extension.mjs          lambda-dispatch/extension
//   dist/cli.mjs                the bin (router, worker, local)
//   dist/local-environment.mjs  an execution environment of the local Lambda (`local`)
//   dist/sst/index.js           lambda-dispatch/sst, the SST component
//   dist/types/                 the declarations of the three library entries
// Unlike the router bundle these leave the package's dependencies to node_modules (the package
// declares them); the router (lambda-dispatch/router, and what `router` and `local` run) is the
// self-contained bundle in dist/router/, which the CLI imports at run time.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const library = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  packages: 'external',
  logLevel: 'warning',
  legalComments: 'none',
} satisfies esbuild.BuildOptions;

/** The CLI's router is the router bundle beside it, not a second copy of the router. */
const routerBeside: esbuild.Plugin = {
  name: 'router-beside',
  setup(build) {
    build.onResolve({ filter: /\/package\/router\.ts$/ }, () => ({ path: './router/index.js', external: true }));
  },
};

/** The SST component finds the router image inside the installed package (router-image.package.ts). */
const packagedRouterImage: esbuild.Plugin = {
  name: 'packaged-router-image',
  setup(build) {
    build.onResolve({ filter: /\/router-image\.ts$/ }, () => ({ path: path.join(ROOT, 'infra/sst/router-image.package.ts') }));
  },
};

export interface PackageBuild {
  cli: string;
  extension: string;
  sst: string;
  types: string;
}

export async function buildPackage(outdir: string): Promise<PackageBuild> {
  const types = path.join(outdir, 'types');
  rmSync(types, { recursive: true, force: true });
  rmSync(path.join(outdir, 'sst'), { recursive: true, force: true });
  const out = {
    cli: path.join(outdir, 'cli.mjs'),
    extension: path.join(outdir, 'extension.mjs'),
    sst: path.join(outdir, 'sst', 'index.js'),
    types,
  };
  await Promise.all([
    // The entry's hashbang is kept on the first line.
    esbuild.build({ ...library, entryPoints: [path.join(ROOT, 'infra/cli/main.ts')], outfile: out.cli, plugins: [routerBeside] }),
    esbuild.build({ ...library, entryPoints: [path.join(ROOT, 'extension/index.ts')], outfile: out.extension }),
    esbuild.build({ ...library, entryPoints: [path.join(ROOT, 'infra/local/environment.ts')], outfile: path.join(outdir, 'local-environment.mjs') }),
    // SST bundles it again with the app's sst.config.ts (and gives it `sst`, `aws`, `$util` …);
    // `.js`, not `.mjs`: SST's bundler adds those globals to .js and .ts files only.
    esbuild.build({ ...library, sourcemap: false, entryPoints: [path.join(ROOT, 'infra/sst/lambda-dispatch.ts')], outfile: out.sst, plugins: [packagedRouterImage] }),
    declarations(types),
  ]);
  return out;
}

/** tsc writes the declarations with the sources' `.ts` specifiers; the package's files are `.js` to TypeScript. */
async function declarations(outDir: string): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'infra/tsconfig.package.json'), '--outDir', outDir], { cwd: ROOT });
  for (const file of walk(outDir)) {
    if (!file.endsWith('.d.ts')) continue;
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2'));
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
