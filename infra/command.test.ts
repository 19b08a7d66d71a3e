import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mustRun, runCommand } from './command.ts';

/** Running, as opposed to gone or a zombie waiting for whoever adopted it to reap it. */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

/** SIGKILL is delivered asynchronously: give it a moment. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40 && running(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !running(pid);
}

test('a command that exits is answered even though what it started still holds its output open, and that is killed', async () => {
  // The grandchild inherits stdout and would keep execFile waiting for 60 s.
  const r = await runCommand('sh', ['-c', 'sleep 60 & echo $!; echo done'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0);
  assert.equal(r.timedOut, false);
  const [pid, word] = r.stdout.trim().split('\n');
  assert.equal(word, 'done');
  assert.ok(r.ms < 30_000, `answered after ${r.ms} ms`);
  assert.equal(await gone(Number(pid)), true, 'the background sleep was killed with its group');
});

test('past its deadline the command and its children are killed; the result says 124 and timed out', async () => {
  const r = await runCommand('sh', ['-c', 'sleep 60 & echo $!; wait'], { timeoutMs: 500 });
  assert.equal(r.code, 124);
  assert.equal(r.timedOut, true);
  assert.match(r.stderr, /killed after 500 ms/);
  assert.equal(await gone(Number(r.stdout.trim())), true);
});

test('exit codes, a command that does not exist, and mustRun carrying the output', async () => {
  assert.equal((await runCommand('sh', ['-c', 'exit 3'], { timeoutMs: 10_000 })).code, 3);
  const missing = await runCommand('/nonexistent/command', [], { timeoutMs: 10_000 });
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /ENOENT/);
  await assert.rejects(mustRun('sh', ['-c', 'echo why >&2; exit 2'], { timeoutMs: 10_000 }), /exited 2[\s\S]*why/);
  assert.equal((await mustRun('sh', ['-c', 'cat; echo ok'], { timeoutMs: 10_000 })).stdout, 'ok\n', 'stdin is closed: cat reads nothing and ends');
});
