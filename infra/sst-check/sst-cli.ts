// The pinned SST CLI, run offline: no Pulumi download (the check needs none), no telemetry, and
// the `bun` it installs providers with taken from the npm package instead of a download.

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../command.ts';
import { oncePerRun } from '../package/once-per-run.ts';

/** The bun binary of the `bun` npm package: its postinstall moves it into bun/bin; without it, it is still in the platform package. */
export function bunBinary(root: string): string {
  const candidates = [
    path.join(root, 'node_modules', '@oven', `bun-${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}`, 'bin', 'bun'),
    path.join(root, 'node_modules', 'bun', 'bin', 'bun.exe'),
  ];
  // The placeholder left in bun/bin before the postinstall is a small script, not a binary.
  const found = candidates.find((c) => existsSync(c) && statSync(c).size > 1_000_000);
  if (!found) throw new Error(`no bun binary in node_modules (looked at ${candidates.join(', ')}): run npm ci`);
  return found;
}

export function sstEnv(root: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SST_SKIP_DEPENDENCY_CHECK: '1',
    SST_TELEMETRY_DISABLED: '1',
    SST_BUN_PATH: bunBinary(root),
    // The CLI cannot be interactive here.
    CI: 'true',
  };
}

/** `sst install`: writes .sst/platform (SST's components and their node_modules) for the pinned version. */
export async function sstInstall(root: string, stage: string): Promise<{ ms: number; output: string }> {
  const sst = path.join(root, 'node_modules', '.bin', 'sst');
  const r = await runCommand(sst, ['install', '--stage', stage], { cwd: root, env: sstEnv(root), timeoutMs: 240_000 });
  if (r.code !== 0) throw new Error(`sst install failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stdout}${r.stderr}`);
  return { ms: r.ms, output: r.stdout + r.stderr };
}

/** sstInstall once per test run, shared by the test files that synthesize (the SST check, the examples). */
export function sstInstallOnce(root: string): Promise<{ ms: number; output: string }> {
  return oncePerRun('sst-install', () => sstInstall(root, 'check'));
}
