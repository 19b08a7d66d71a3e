// The app registry is created on first use: importing the extension changes nothing in the
// process (no exit hook), and the hook that kills app processes comes with the first of them.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('importing the extension installs no exit hook; the first app process does', () => {
  const script = `
    const before = process.listenerCount('exit');
    const { createHandler, closeLocalServers } = await import('./extension/handler.ts');
    await import('./extension/worker.ts');
    const { appRegistry } = await import('./extension/app/registry.ts');
    createHandler((req, res) => res.end());
    const afterImport = process.listenerCount('exit');
    const proc = appRegistry().process('exit 0', 1, undefined);
    const afterSpawn = process.listenerCount('exit');
    await new Promise((r) => proc.onExit(r));
    await closeLocalServers();
    console.log(JSON.stringify([afterImport - before, afterSpawn - before]));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), [0, 1]);
});
