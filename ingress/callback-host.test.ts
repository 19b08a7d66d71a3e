import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveCallbackHost } from './callback-host.ts';

/** A stand-in for the ECS agent's metadata endpoint v4 (container and /task documents). */
async function metadataServer(routes: Record<string, { status?: number; body: unknown }>): Promise<{ uri: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const route = routes[req.url ?? ''];
    if (!route) return void res.writeHead(404).end();
    res.writeHead(route.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(route.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v4/abc`, hits, server };
}

test('an explicit host wins over everything', async () => {
  const r = await resolveCallbackHost({
    LAMBDA_DISPATCH_RouterCallbackHost: 'router.internal',
    K8S_POD_IP: '10.1.1.1',
    ECS_CONTAINER_METADATA_URI_V4: 'http://127.0.0.1:1/never',
  });
  assert.deepEqual(r, { host: 'router.internal', source: 'RouterCallbackHost' });
});

test('then the variable named by LAMBDA_DISPATCH_EnvVarForCallbackIp (K8S_POD_IP by default)', async () => {
  assert.deepEqual(await resolveCallbackHost({ K8S_POD_IP: '10.1.1.1' }), { host: '10.1.1.1', source: 'EnvVarForCallbackIp' });
  assert.deepEqual(await resolveCallbackHost({ LAMBDA_DISPATCH_EnvVarForCallbackIp: 'MY_IP', MY_IP: '10.2.2.2', K8S_POD_IP: '10.1.1.1' }), {
    host: '10.2.2.2',
    source: 'EnvVarForCallbackIp',
  });
});

test("then the task's own IPv4 from the ECS task metadata endpoint v4", async () => {
  const m = await metadataServer({
    '/v4/abc': { body: { DockerId: 'x', Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: ['10.0.2.106'] }] } },
  });
  try {
    assert.deepEqual(await resolveCallbackHost({ ECS_CONTAINER_METADATA_URI_V4: m.uri }), { host: '10.0.2.106', source: 'ecs-metadata' });
  } finally {
    m.server.close();
  }
});

test('the task document is read when the container document lists no network', async () => {
  const m = await metadataServer({
    '/v4/abc': { body: { DockerId: 'x' } },
    '/v4/abc/task': { body: { Containers: [{ Name: 'sidecar' }, { Name: 'router', Networks: [{ IPv4Addresses: ['10.0.3.7'] }] }] } },
  });
  try {
    assert.deepEqual(await resolveCallbackHost({ ECS_CONTAINER_METADATA_URI_V4: m.uri }), { host: '10.0.3.7', source: 'ecs-metadata' });
  } finally {
    m.server.close();
  }
});

test('a metadata endpoint that keeps failing falls back to loopback after a bounded number of tries, and says so', async () => {
  const m = await metadataServer({ '/v4/abc': { status: 500, body: {} } });
  const lines: string[] = [];
  try {
    const r = await resolveCallbackHost({ ECS_CONTAINER_METADATA_URI_V4: m.uri }, { attempts: 2, log: (l) => lines.push(l) });
    assert.deepEqual(r, { host: '127.0.0.1', source: 'loopback' });
    assert.equal(m.hits.length, 2);
    assert.match(lines.at(-1) ?? '', /gave no IPv4 address/);
  } finally {
    m.server.close();
  }
});

test('nothing set: loopback', async () => {
  assert.deepEqual(await resolveCallbackHost({}), { host: '127.0.0.1', source: 'loopback' });
});
