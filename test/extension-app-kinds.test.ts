// Whole-system tests of the extension: every kind of app behind router + local Lambda, each
// streaming a 10 MB body both ways; plain Lambda HTTP events invoked on the local Lambda; an app
// slow to become ready, with and without async init.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { serveDemo } from '../demo/serve.ts';
import { startLocalLambda, type LocalLambda } from '../infra/local/lambda-service.ts';
import { DEMO_FUNCTION, call, startStack } from './stack.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const PORT_APP = fixture('port-app.mjs');


function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Through the router: GET, then a 10 MB random body POSTed to /echo and streamed back. */
async function tenMegabytesBothWays(base: string, ping: string): Promise<void> {
  const r = await call(base, '/ping');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), ping);
  const body = randomBytes(10 * 1024 * 1024);
  const echo = await call(base, '/echo', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) } });
  assert.equal(echo.status, 200);
  assert.equal(echo.body.length, body.length);
  assert.ok(echo.body.equals(body), 'the 10 MB body came back changed');
}

describe('every kind of app behind the router, 10 MB both ways', () => {
  test('request listener (the demo app)', async () => {
    const stack = await startStack();
    try {
      await tenMegabytesBothWays(stack.router.url, 'pong');
    } finally {
      await stack.close();
    }
  });

  test('fetch handler', async () => {
    const stack = await startStack({ lambda: { handlerModule: fixture('fetch-function.ts') } });
    try {
      await tenMegabytesBothWays(stack.router.url, 'pong from fetch');
    } finally {
      await stack.close();
    }
  });

  test('{ port } with a separately started server', async () => {
    const app = await serveDemo(0);
    const { port } = app.address() as AddressInfo;
    const stack = await startStack({ lambda: { handlerModule: fixture('port-function.ts'), env: { APP_PORT: String(port) } } });
    try {
      await tenMegabytesBothWays(stack.router.url, 'pong');
    } finally {
      await stack.close();
      app.closeAllConnections();
      app.close();
    }
  });

  test('{ port, command }: the extension starts the app', async () => {
    const port = await freePort();
    const stack = await startStack({
      lambda: {
        handlerModule: fixture('port-function.ts'),
        concurrency: 1, // one environment, so one app process on that port
        env: { APP_PORT: String(port), APP_COMMAND: `EXIT_AFTER_MS=120000 node ${PORT_APP}` },
      },
    });
    try {
      await tenMegabytesBothWays(stack.router.url, 'pong from port app');
    } finally {
      await call(`http://127.0.0.1:${port}`, '/exit', { method: 'POST' }).catch(() => {});
      await stack.close();
    }
  });
});

// ── plain Lambda HTTP events on the local Lambda ────────────────────────────────────────────

async function invoke(lambda: LocalLambda, event: unknown): Promise<{ functionError: string | null; payload: Record<string, unknown> }> {
  const res = await fetch(`${lambda.url}/2015-03-31/functions/lambda-dispatch-demo/invocations`, { method: 'POST', body: JSON.stringify(event) });
  return { functionError: res.headers.get('x-amz-function-error'), payload: (await res.json()) as Record<string, unknown> };
}

const bodyOf = (p: Record<string, unknown>) => Buffer.from(p.body as string, p.isBase64Encoded ? 'base64' : 'utf8');

describe('direct HTTP events on the local Lambda (no router)', () => {
  test('Function URL, ALB and API Gateway v1 events get the demo app\'s answers, binary bodies intact', async () => {
    const lambda = await startLocalLambda({ functionName: 'lambda-dispatch-demo', handlerModule: DEMO_FUNCTION, concurrency: 2, timeoutS: 30, memoryMb: 512, initMs: 0 });
    try {
      const binary = randomBytes(256 * 1024);
      const url = await invoke(lambda, {
        version: '2.0', rawPath: '/ping', rawQueryString: '', headers: { host: 'x.lambda-url.us-east-1.on.aws' },
        requestContext: { http: { method: 'GET', path: '/ping', sourceIp: '203.0.113.1' }, domainName: 'x.lambda-url.us-east-1.on.aws' }, isBase64Encoded: false,
      });
      assert.equal(url.functionError, null);
      assert.equal(url.payload.statusCode, 200);
      assert.equal(url.payload.body, 'pong');
      const urlEcho = await invoke(lambda, {
        version: '2.0', rawPath: '/echo', rawQueryString: '', headers: { 'content-type': 'application/octet-stream' },
        requestContext: { http: { method: 'POST', path: '/echo', sourceIp: '203.0.113.1' } }, body: binary.toString('base64'), isBase64Encoded: true,
      });
      assert.ok(bodyOf(urlEcho.payload).equals(binary), 'Function URL binary echo');

      const albEcho = await invoke(lambda, {
        requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/t/1' } },
        httpMethod: 'POST', path: '/echo', queryStringParameters: {}, headers: { 'content-type': 'image/png', 'x-forwarded-for': '192.0.2.9' },
        body: binary.toString('base64'), isBase64Encoded: true,
      });
      assert.equal(albEcho.payload.statusCode, 200);
      assert.equal(albEcho.payload.statusDescription, '200 OK');
      assert.ok(bodyOf(albEcho.payload).equals(binary), 'ALB binary echo');

      const v1 = await invoke(lambda, {
        resource: '/{proxy+}', path: '/cookies', httpMethod: 'GET', headers: { Host: 'x.execute-api.us-east-1.amazonaws.com' },
        multiValueHeaders: { Host: ['x.execute-api.us-east-1.amazonaws.com'] }, queryStringParameters: null, multiValueQueryStringParameters: null,
        requestContext: { identity: { sourceIp: '198.51.100.1' }, stage: 'prod' }, body: null, isBase64Encoded: false,
      });
      assert.equal(v1.payload.statusCode, 200);
      assert.deepEqual((v1.payload.multiValueHeaders as Record<string, string[]>)['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
      const v1Echo = await invoke(lambda, {
        resource: '/{proxy+}', path: '/echo', httpMethod: 'POST', headers: { 'Content-Type': 'application/octet-stream' },
        multiValueHeaders: { 'Content-Type': ['application/octet-stream'] }, requestContext: { identity: { sourceIp: '198.51.100.1' } },
        body: binary.toString('base64'), isBase64Encoded: true,
      });
      assert.ok(bodyOf(v1Echo.payload).equals(binary), 'API Gateway v1 binary echo');
    } finally {
      await lambda.close();
    }
  });
});

// ── an app slow to become ready ─────────────────────────────────────────────────────────────

describe('an app slow to become ready (ready 1.5 s after start, init budget 200 ms)', () => {
  const ping = {
    version: '2.0', rawPath: '/ping', rawQueryString: '', headers: {},
    requestContext: { http: { method: 'GET', path: '/ping', sourceIp: '203.0.113.1' } }, isBase64Encoded: false,
  };

  async function slowLambda(asyncInit: boolean) {
    const port = await freePort();
    const lambda = await startLocalLambda({
      functionName: 'lambda-dispatch-demo', handlerModule: fixture('port-function.ts'), concurrency: 1, timeoutS: 30, memoryMb: 512, initMs: 0,
      env: {
        APP_PORT: String(port),
        APP_COMMAND: `READY_AFTER_MS=1500 EXIT_AFTER_MS=60000 node ${PORT_APP}`,
        LAMBDA_DISPATCH_INIT_TIMEOUT: '200',
        LAMBDA_DISPATCH_ASYNC_INIT: String(asyncInit),
      },
    });
    return { port, lambda };
  }

  test('with async init: init ends early and the first request is served once the app is ready', async () => {
    const { port, lambda } = await slowLambda(true);
    try {
      const r = await invoke(lambda, ping);
      assert.equal(r.functionError, null, JSON.stringify(r.payload));
      assert.equal(r.payload.body, 'pong from port app');
    } finally {
      await call(`http://127.0.0.1:${port}`, '/exit', { method: 'POST' }).catch(() => {});
      await lambda.close();
    }
  });

  test('without it: the init fails with a clear error', async () => {
    const { port, lambda } = await slowLambda(false);
    try {
      const r = await invoke(lambda, ping);
      assert.ok(r.functionError !== null, 'a function error');
      assert.match(String(r.payload.errorMessage), /init failed: .* did not answer GET \/health with 200 within 200 ms.*LAMBDA_DISPATCH_ASYNC_INIT=true/);
    } finally {
      // The app process outlives the failed environment: stop it once it answers.
      for (let i = 0; i < 100; i++) {
        const ok = await call(`http://127.0.0.1:${port}`, '/exit', { method: 'POST' }).then(() => true, () => false);
        if (ok) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await lambda.close();
    }
  });
});
