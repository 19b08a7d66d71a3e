// `{ port, command }` apps on the local Lambda: each execution environment runs its own copy of the
// app on a port of its own (LAMBDA_DISPATCH_PORT / PORT, set per environment), so such an app
// scales past one environment as on Lambda; and whatever an environment started (the shell, the
// app, what the app started) ends with the environment: killed, reaped when idle, or the stack
// stopped.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startLocalLambda } from '../infra/local/lambda-service.ts';
import { groupMembers, isRunning } from '../infra/local/processes.ts';
import { call, startStack, waitFor } from './stack.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const PORT_FUNCTION = fixture('port-function.ts');
// A shell that starts node and waits: the app is the shell's child, its `sleep` a grandchild.
const COMMAND = `SPAWN_CHILD=1 EXIT_AFTER_MS=300000 node ${fixture('port-app.mjs')} & wait`;

interface AppInfo {
  pid: number;
  port: number;
  child: number | null;
}

/** The process group of a live process (Linux /proc), or undefined. */
function pgrpOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

const running = isRunning;

/** Every PID of these apps and their groups that still runs. */
function leftOver(apps: AppInfo[], groups: number[]): number[] {
  const pids = new Set<number>();
  for (const a of apps) for (const pid of [a.pid, a.child]) if (pid !== null && running(pid)) pids.add(pid);
  for (const g of groups) for (const pid of groupMembers(g) ?? []) pids.add(pid);
  return [...pids];
}

function groupsOf(apps: AppInfo[]): number[] {
  const groups = new Set<number>();
  for (const a of apps) {
    const g = pgrpOf(a.pid);
    if (g !== undefined) groups.add(g);
  }
  return [...groups];
}

describe('{ port, command } apps on the local Lambda', () => {
  test('scale past one environment: each environment its own port; stopping the stack leaves no process', async () => {
    const stack = await startStack({
      lambda: { handlerModule: PORT_FUNCTION, concurrency: 16, env: { APP_COMMAND: COMMAND } },
      routerEnv: { LAMBDA_DISPATCH_MaxConcurrentCount: '2', LAMBDA_DISPATCH_ChannelCount: '2' },
    });
    const apps = new Map<number, AppInfo>();
    let groups: number[] = [];
    let requests = 0;
    try {
      // Waves of 8 slow requests: 2 per environment, so at least 4 environments are wanted. The
      // scaler adds them as it sees the queue; keep going until 3 distinct apps have answered.
      const until = Date.now() + 90_000;
      while (apps.size < 3 && Date.now() < until) {
        const replies = await Promise.all(Array.from({ length: 8 }, () => call(stack.router.url, '/delay?ms=1500')));
        for (const r of replies) {
          requests++;
          assert.equal(r.status, 200, `a request failed: ${r.status} ${r.body.toString()}\n${stack.logs.join('\n')}`);
          const info = JSON.parse(r.body.toString()) as AppInfo;
          apps.set(info.port, info);
        }
      }
      assert.ok(apps.size >= 3, `only ${apps.size} environments served ${requests} requests`);
      // One app per port, each a process of its own.
      assert.equal(new Set([...apps.values()].map((a) => a.pid)).size, apps.size);
      const status = await stack.router.status();
      // No environment failed to start (an app that could not bind its port would end its invocation);
      // a throttle would only mean environments still leaving, as on Lambda.
      const { throttled: _, ...failures } = status.invokes.failuresByKind;
      assert.deepEqual(failures, {}, `failed invokes: ${JSON.stringify(status.invokes)}\n${stack.logs.join('\n')}`);
      groups = groupsOf([...apps.values()]);
      assert.equal(groups.length, apps.size, 'each app in a process group of its own');
      assert.ok(leftOver([...apps.values()], []).length >= 2 * apps.size, 'apps and their children run');
      console.log(`# ${requests} requests, ${apps.size} environments (ports ${[...apps.keys()].join(', ')}), ${stack.lambda.ledger().environmentsCreated} created`);
    } finally {
      const t0 = Date.now();
      await stack.close();
      console.log(`# stack closed in ${Date.now() - t0} ms`);
    }
    // close() resolves once the processes are gone: nothing left, not even the `sleep`s.
    assert.deepEqual(leftOver([...apps.values()], groups), []);
  });

  test('an environment killed, or reaped when idle, takes its app and what the app started with it', async () => {
    const lambda = await startLocalLambda({
      functionName: 'lambda-dispatch-demo',
      handlerModule: PORT_FUNCTION,
      concurrency: 2,
      timeoutS: 30,
      memoryMb: 512,
      initMs: 0,
      idleReapMs: 1500,
      env: { APP_COMMAND: COMMAND },
    });
    // A Function URL event: the extension serves it through the app directly.
    const ask = async (): Promise<AppInfo> => {
      const res = await fetch(`${lambda.url}/2015-03-31/functions/lambda-dispatch-demo/invocations`, {
        method: 'POST',
        body: JSON.stringify({ version: '2.0', rawPath: '/delay', rawQueryString: 'ms=0', headers: {}, requestContext: { http: { method: 'GET', path: '/delay', sourceIp: '192.0.2.1' } }, isBase64Encoded: false }),
      });
      assert.equal(res.headers.get('x-amz-function-error'), null);
      const payload = (await res.json()) as { statusCode: number; body: string };
      assert.equal(payload.statusCode, 200, payload.body);
      return JSON.parse(payload.body) as AppInfo;
    };
    try {
      const first = await ask();
      const firstGroups = groupsOf([first]);
      assert.ok(running(first.pid) && first.child !== null && running(first.child));
      const [env] = lambda.stats().environments;
      assert.ok(env && lambda.killEnvironment(env));
      const afterKill = await waitFor(() => leftOver([first], firstGroups), (l) => l.length === 0, 10_000);
      assert.deepEqual(afterKill, [], 'killEnvironment left processes of its app');

      const second = await ask();
      assert.notEqual(second.pid, first.pid);
      const secondGroups = groupsOf([second]);
      // Idle for longer than idleReapMs: piscina ends the thread, the pool ends the app.
      const afterReap = await waitFor(() => leftOver([second], secondGroups), (l) => l.length === 0, 15_000);
      assert.deepEqual(afterReap, [], 'the reaped environment left processes of its app');
      assert.deepEqual(lambda.stats().environments, []);
    } finally {
      await lambda.close();
    }
  });
});

describe('a function that fails to start', () => {
  test('waiting requests get 502 LD_FUNCTION_START_FAILED within seconds, not at the queue timeout', async () => {
    // The app command exits at once: every environment's init fails (the app is gone before it is ready).
    const stack = await startStack({ lambda: { handlerModule: PORT_FUNCTION, env: { APP_COMMAND: 'exit 3' } } });
    try {
      const t0 = Date.now();
      const replies = await Promise.all([call(stack.router.url, '/ping'), call(stack.router.url, '/ping')]);
      const ms = Date.now() - t0;
      for (const r of replies) {
        assert.equal(r.status, 502, r.body.toString());
        assert.equal(r.headers['x-lambda-dispatch-error'], 'LD_FUNCTION_START_FAILED');
      }
      // Two starts and one backoff (≤ 1 s); the queue timeout is 60 s.
      assert.ok(ms < 30_000, `answered after ${ms} ms`);
      assert.ok(stack.logs.some((l) => /function-error: .*exited \(code 3\)/.test(l)), stack.logs.join('\n'));
      console.log(`# answered 502 after ${ms} ms`);
    } finally {
      await stack.close();
    }
  });
});
