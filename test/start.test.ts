// `npm start` as a user runs it: one command, no AWS, then Ctrl-C (SIGINT to the whole process
// group, as a terminal sends it) stops everything. The script runs infra/local/start.ts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { groupMembers, isRunning } from '../infra/local/processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface Started {
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  pid: number;
}

/** `npm start` in a process group of its own, as a terminal runs it; resolves once it printed the router's URL. */
async function npmStart(env: Record<string, string>): Promise<Started> {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env,
      LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0',
      LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0',
      LAMBDA_DISPATCH_AdminPort: '0',
      LAMBDA_DISPATCH_ShutdownGraceMs: '2000',
      LOCAL_LAMBDA_PORT: '0',
      AWS_PROFILE: 'does-not-exist',
      AWS_ACCESS_KEY_ID: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
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
  return { url, output: () => out, exited, pid: child.pid! };
}

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
    // The admin URLs it prints answer: the dashboard page and the Prometheus text.
    const dashboard = /^dashboard\s+(http:\/\/\S+)/m.exec(out)?.[1];
    const metrics = /^metrics\s+curl (http:\/\/\S+)/m.exec(out)?.[1];
    assert.ok(dashboard && metrics, `npm start prints the dashboard and metrics URLs:\n${out}`);
    const page = await fetch(dashboard);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /uplot\.js/);
    const prom = await fetch(metrics);
    assert.equal(prom.status, 200);
    assert.match(await prom.text(), /^lambda_dispatch_requests_total/m);
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

test('Ctrl-C of npm start ends a { port, command } app, the shell that started it and what it started', async () => {
  const started = await npmStart({
    LOCAL_LAMBDA_HANDLER: fixture('port-function.ts'),
    APP_COMMAND: `SPAWN_CHILD=1 EXIT_AFTER_MS=300000 node ${fixture('port-app.mjs')} & wait`,
  });
  let app: { pid: number; port: number; child: number | null } | undefined;
  let group: number[] = [];
  try {
    const res = await fetch(`${started.url}/delay?ms=0`);
    assert.equal(res.status, 200, started.output());
    app = (await res.json()) as { pid: number; port: number; child: number | null };
    const stat = readFileSync(`/proc/${app.pid}/stat`, 'utf8');
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    assert.notEqual(pgid, started.pid, 'the app runs in a process group of its own');
    group = groupMembers(pgid) ?? [];
    // The shell, the app and the app's `sleep`.
    assert.ok(group.length >= 3, `the app's group: ${group.join(', ')}`);
  } finally {
    process.kill(-started.pid, 'SIGINT');
  }
  const { code, signal } = await started.exited;
  assert.ok(code === 0 || signal === 'SIGINT', `npm start ended with ${code ?? signal}:\n${started.output()}`);
  // npm dies of the SIGINT at once; the router behind it drains first. Wait for the whole group.
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    try {
      process.kill(-started.pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // The SIGINT went to npm start's group only; the app's group was ended by the local Lambda.
  // (A zombie is a process that has ended and waits for its parent, here init, to reap it.)
  assert.deepEqual(group.filter(isRunning), [], `left running after npm start ended:\n${started.output()}`);
  assert.throws(() => process.kill(-started.pid, 0), /ESRCH/);
});

test('a LOCAL_LAMBDA_HANDLER that cannot serve stops npm start at once, naming the variable', async () => {
  for (const [handler, reason] of [
    [fixture('no-such-module.ts'), /LOCAL_LAMBDA_HANDLER: no such module .*no-such-module\.ts/],
    [fixture('port-app.mjs'), /LOCAL_LAMBDA_HANDLER: .*port-app\.mjs cannot serve: Runtime\.HandlerNotFound/],
  ] as const) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/start.ts'], {
      cwd: ROOT,
      env: { ...process.env, LOCAL_LAMBDA_HANDLER: handler, LOCAL_LAMBDA_PORT: '0', LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0', LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: '0', LAMBDA_DISPATCH_AdminPort: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 1, out);
    assert.match(out, reason);
    assert.doesNotMatch(out, /router\s+http/, 'nothing started listening');
  }
});
