// Builds sst.config.ts into a runnable program the way the SST CLI does before it hands it to
// Pulumi (sst/sst pkg/project/run.go and pkg/js/js.go, pinned version): the same esbuild options,
// `$app`/`$cli`/`$dev` defines, the platform's shim injected, the provider and `sst` globals
// prepended to every file outside .sst, then SST's own run(). Only the last line differs: instead
// of Pulumi's language host, harness.ts runs it against mocks.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export interface ProgramOptions {
  root: string;
  /** sst.config.ts, or a variant of it. */
  configPath: string;
  stage: string;
  dev: boolean;
  /** Written inside .sst/platform so that @pulumi/* and the other externals resolve there. */
  outFile: string;
  resultFile: string;
}

// pkg/js/js.go: what SST leaves to .sst/platform/node_modules at run time.
const EXTERNAL = ['@pulumi/*', 'undici', '@pulumiverse/*', '@sst-provider/*', '@aws-sdk/*', 'esbuild', 'archiver', 'glob', 'vite'];

const BANNER = `
import { createRequire as topLevelCreateRequire } from 'module';
const require = topLevelCreateRequire(import.meta.url);
import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"
const __filename = topLevelFileUrlToPath(import.meta.url)
const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))
`;

export async function buildProgram(o: ProgramOptions): Promise<void> {
  const platform = path.join(o.root, '.sst', 'platform');
  const slash = (p: string) => p.split(path.sep).join('/');
  const lock = JSON.parse(readFileSync(path.join(o.root, '.sst', 'provider-lock.json'), 'utf8')) as { alias: string; package: string }[];
  const globals = [
    ...lock.map((p) => `import * as ${p.alias} from "${p.package}";`),
    `import * as sst from "${slash(path.join(platform, 'src/components'))}";`,
  ].join('\n');
  const cli = {
    command: o.dev ? 'dev' : 'deploy',
    dev: o.dev,
    paths: {
      home: path.join(o.root, '.sst', 'check', 'home'),
      root: o.root,
      work: path.join(o.root, '.sst'),
      platform,
    },
    state: { version: {} },
  };
  const entry = `
    import * as pulumi from "@pulumi/pulumi";
    import { synthesize } from "${slash(fileURLToPath(new URL('./harness.ts', import.meta.url)))}";
    import { run } from "${slash(path.join(platform, 'src/auto/run.ts'))}";
    import mod from "${slash(o.configPath)}";
    await synthesize({
      pulumi, config: mod, run,
      stage: ${JSON.stringify(o.stage)},
      root: ${JSON.stringify(o.root)},
      work: ${JSON.stringify(cli.paths.work)},
      resultFile: ${JSON.stringify(o.resultFile)},
    });
    // A failed program can leave Pulumi waiting on registrations that will never come.
    process.exit(0);
  `;
  await esbuild.build({
    banner: { js: BANNER },
    mainFields: ['module', 'main'],
    format: 'esm',
    platform: 'node',
    sourcemap: 'linked',
    stdin: { contents: entry, resolveDir: o.root, sourcefile: 'eval.ts', loader: 'ts' },
    nodePaths: [path.join(platform, 'node_modules')],
    plugins: [
      {
        name: 'InjectGlobals',
        setup(build) {
          build.onLoad({ filter: /\.(js|ts|jsx|tsx)$/ }, (args) => {
            const contents = readFileSync(args.path, 'utf8');
            return { contents: args.path.includes('.sst') ? contents : `${globals}\n${contents}`, loader: 'default' };
          });
        },
      },
    ],
    external: EXTERNAL,
    // SST defines `$app` as a JSON literal; here it is read from a global that the harness sets
    // from the config's own app(), so that one build serves any stage.
    define: { $app: 'globalThis.__sstCheckApp', $cli: JSON.stringify(cli), $dev: String(o.dev) },
    inject: [path.join(platform, 'src/shim/run.js')],
    outfile: o.outFile,
    write: true,
    bundle: true,
    logLevel: 'silent',
  });
}
