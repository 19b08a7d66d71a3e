// The package as a user gets it, made once per test run (once-per-run.ts) and shared by the test
// files that need it: `npm pack` of this repository, and an empty project with the tarball
// installed from its path (its dependencies come from the registry).

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mustRun } from '../command.ts';
import { oncePerRun } from './once-per-run.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface PackedFile {
  path: string;
  size: number;
}

export interface Packed {
  tarball: string;
  /** The project the tarball is installed in (node_modules/lambda-dispatch, its dependencies, @types/node). */
  project: string;
  size: number;
  unpackedSize: number;
  files: PackedFile[];
  /** How long packing and installing took (for the report; not asserted). */
  ms: { pack: number; install: number };
}

/**
 * Without the test runner's and npm's own variables, so that the project's npm behaves as a user's;
 * with the machine's own way out to the registry (its CA bundle and proxy), as a user's shell has
 * it. Without NODE_EXTRA_CA_CERTS, npm on a Node from the npm registry (CI's 22 and 24), whose
 * global npmrc with the machine's cafile is not found beside that Node, failed every TLS handshake
 * to the registry and retried each package for 70 s before falling back to its cache.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = [
    ...['PATH', 'HOME', 'TMPDIR', 'LANG', 'npm_config_registry', 'NPM_CONFIG_REGISTRY', 'npm_config_cache', 'NPM_CONFIG_CACHE'],
    ...['npm_config_cafile', 'NPM_CONFIG_CAFILE', 'npm_config_proxy', 'NPM_CONFIG_PROXY', 'npm_config_https_proxy', 'NPM_CONFIG_HTTPS_PROXY'],
    ...['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR'],
    ...['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'],
  ];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

/** The packed and installed package of this test run. */
export function packed(): Promise<Packed> {
  return oncePerRun('pack', make);
}

async function make(dir: string): Promise<Packed> {
  const t0 = Date.now();
  // `npm pack` runs prepack (npm run build) first, as `npm publish` does.
  const { stdout } = await mustRun('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, env: cleanEnv(), timeoutMs: 240_000 });
  // The build's own line comes before npm's JSON.
  const json = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as { filename: string; size: number; unpackedSize: number; files: PackedFile[] }[];
  const meta = json[0]!;
  const tarball = path.join(dir, meta.filename);
  const t1 = Date.now();
  const project = path.join(dir, 'app');
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'lambda-dispatch-user', private: true, type: 'module' }, null, 2));
  // Metadata already in npm's cache is used as it is (the run that installed the repository just
  // fetched it), and a registry that does not answer fails the install in minutes, not hours.
  await mustRun('npm', ['install', tarball, '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline', '--fetch-timeout=60000', '--fetch-retries=1'], {
    cwd: project,
    env: cleanEnv(),
    timeoutMs: 240_000,
  });
  // Node's types for tsc, as any TypeScript project has them.
  mkdirSync(path.join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(project, 'node_modules', '@types', 'node'), 'dir');
  return {
    tarball,
    project,
    size: meta.size,
    unpackedSize: meta.unpackedSize,
    files: meta.files.map((f) => ({ path: f.path, size: f.size })),
    ms: { pack: t1 - t0, install: Date.now() - t1 },
  };
}
