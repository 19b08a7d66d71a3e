// Synthesizes an SST config in a child process (Pulumi's runtime is process-wide state, so each
// stage or mode gets a fresh one) and returns the resource graph. Leaves nothing behind.

import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../command.ts';
import { buildProgram } from './program.ts';
import type { SynthResource, SynthResult } from './harness.ts';

export type { SynthResource, SynthResult };

let seq = 0;

export async function synthesize(o: { root: string; stage: string; dev: boolean; configPath?: string }): Promise<SynthResult & { ms: number }> {
  const started = Date.now();
  const tag = `${o.stage}-${o.dev ? 'dev' : 'deploy'}-${process.pid}-${++seq}`;
  const outFile = path.join(o.root, '.sst', 'platform', `sst-check.${tag}.mjs`);
  const checkDir = path.join(o.root, '.sst', 'check');
  const resultFile = path.join(checkDir, `${tag}.json`);
  mkdirSync(checkDir, { recursive: true });
  try {
    await buildProgram({ root: o.root, configPath: o.configPath ?? path.join(o.root, 'sst.config.ts'), stage: o.stage, dev: o.dev, outFile, resultFile });
    const r = await runCommand(process.execPath, ['--enable-source-maps', '--no-deprecation', '--no-warnings', outFile], {
      cwd: o.root,
      env: { ...process.env, NODE_OPTIONS: '' },
      timeoutMs: 120_000,
    });
    // A program that failed still wrote its result (with the errors); Pulumi then exits non-zero
    // over the registrations the failure left pending.
    if (r.code !== 0 && !existsSync(resultFile)) {
      throw new Error(`synthesis of ${tag} failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stdout}${r.stderr}`);
    }
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as SynthResult;
    return { ...result, ms: Date.now() - started };
  } finally {
    for (const f of [outFile, `${outFile}.map`, resultFile]) rmSync(f, { force: true });
  }
}
