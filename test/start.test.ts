// `npm start` as a user runs it: one command, no AWS, then Ctrl-C (SIGINT to the whole process
// group, as a terminal sends it) stops everything. The script runs infra/local/start.ts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('npm start serves /ping from a local Lambda and Ctrl-C leaves no process behind', async () => {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env,
      LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
      LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0',
      LAMBDA_DISPATCH_AdminPort: '0',
      // fetch keeps its connection open: the drain waits for it at most this long.
      LAMBDA_DISPATCH_ShutdownGraceMs: '2000',
      LOCAL_LAMBDA_PORT: '0',
      // Whatever AWS settings the machine has must not matter.
      AWS_PROFILE: 'does-not-exist',
      AWS_ACCESS_KEY_ID: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /router\s+(http:\/\/\S+)/.exec(out);
        if (m) {
          clearInterval(timer);
          resolve(m[1]!);
        }
      }, 50);
      void exited.then(({ code }) => {
        clearInterval(timer);
        reject(new Error(`npm start exited (${code}) before printing the URL:\n${out}`));
      });
    });
    const res = await fetch(`${url}/ping`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'pong');
    const who = (await (await fetch(`${url}/whoami`)).json()) as { env: string };
    assert.match(who.env, /\$LATEST/, 'served by a local Lambda environment');
  } finally {
    process.kill(-child.pid!, 'SIGINT');
  }
  const { code, signal } = await exited;
  // npm itself dies of the SIGINT, as in a terminal; the router shuts down in order.
  assert.ok(code === 0 || signal === 'SIGINT', `npm start ended with ${code ?? signal}:\n${out}`);
  await new Promise((r) => setTimeout(r, 1000));
  assert.match(out, /stopping: SIGINT, draining/);
  assert.match(out, /nothing cut/);
  // Nothing of the process group is left.
  assert.throws(() => process.kill(-child.pid!, 0), /ESRCH/);
});
