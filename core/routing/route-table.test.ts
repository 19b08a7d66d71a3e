// The route table: which function a request reaches, and what a declaration must say.
//   node --import tsx --test core/routing/route-table.test.ts

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoutesError, RouteTable, type RoutesSpec } from './route-table.ts';

const SPEC: RoutesSpec = {
  functions: [
    { name: 'api', functionName: 'arn:aws:lambda:us-east-1:123456789012:function:api' },
    { name: 'images', functionName: 'images', settings: { MaxConcurrentCount: 4 } },
    { name: 'beta', functionName: 'api-beta' },
    { name: 'tenant', functionName: 'tenant' },
  ],
  routes: [
    { host: 'img.example.com', function: 'images' },
    { host: '*.tenants.example.com', function: 'tenant' },
    { pathPrefix: '/images/', function: 'images' },
    { pathPrefix: '/', function: 'api' },
  ],
  header: { name: 'X-Lambda-Dispatch-Function', allow: { 'beta-2026': 'beta' } },
};

const table = RouteTable.compile(SPEC);
const to = (host: string | undefined, target: string, header?: string) => {
  const r = table.resolve({ host, target, header });
  return r.kind === 'function' ? r.name : `404 (${r.why})`;
};

test('a path prefix matches whole segments; the first matching route wins', () => {
  assert.equal(to('example.com', '/images'), 'images');
  assert.equal(to('example.com', '/images/cat.png?w=10'), 'images');
  assert.equal(to('example.com', '/imagesX'), 'api');
  assert.equal(to('example.com', '/'), 'api');
  assert.equal(to(undefined, '/anything'), 'api');
  // An absolute-form target is routed by its path.
  assert.equal(to(undefined, 'http://example.com/images/a'), 'images');
});

test('hosts compare without case or port; a wildcard needs at least one label in front', () => {
  assert.equal(to('IMG.Example.com:443', '/x'), 'images');
  assert.equal(to('a.tenants.example.com', '/x'), 'tenant');
  assert.equal(to('a.b.tenants.example.com', '/x'), 'tenant');
  assert.equal(to('tenants.example.com', '/x'), 'api');
  assert.equal(to('eviltenants.example.com', '/x'), 'api');
});

test('the selection header reaches only allow-listed values; any other value reaches nothing', () => {
  assert.equal(to('example.com', '/', 'beta-2026'), 'beta');
  assert.equal(to('img.example.com', '/images/a', 'beta-2026'), 'beta', 'the header decides alone');
  // Not a listed value: neither the function names nor their Lambda names are accepted.
  for (const value of ['beta', 'api', 'images', 'api-beta', 'arn:aws:lambda:us-east-1:123456789012:function:api', '', 'BETA-2026']) {
    assert.equal(to('example.com', '/', value), '404 (header value not allowed)', `header value ${JSON.stringify(value)}`);
  }
  // Without the header the routes apply.
  assert.equal(to('example.com', '/'), 'api');
});

test('a request that matches no route gets none (404), not a default', () => {
  const narrow = RouteTable.compile({ functions: [{ name: 'a', functionName: 'a' }], routes: [{ pathPrefix: '/a', function: 'a' }] });
  assert.deepEqual(narrow.resolve({ host: 'x', target: '/b', header: undefined }), { kind: 'none', why: 'no route matches' });
  assert.deepEqual(narrow.resolve({ host: 'x', target: '/a/1', header: undefined }), { kind: 'function', index: 0, name: 'a' });
  // No selection header declared: a header of that name means nothing.
  assert.equal(narrow.headerName, null);
});

test('a declaration is checked at start, every problem named at once', () => {
  const bad = {
    functions: [{ name: 'a', functionName: 'a' }, { name: 'a', functionName: '' }, { name: 'no spaces', functionName: 'x' }],
    routes: [{ pathPrefix: 'a', function: 'a' }, { host: 'bad host', function: 'b' }],
    header: { name: 'bad header', allow: { v: 'zzz' } },
  };
  assert.throws(
    () => RouteTable.compile(bad),
    (err: unknown) => {
      assert.ok(err instanceof RoutesError);
      for (const part of [
        'functions[1].name "a" is declared twice',
        'functions[1].functionName must be a function name or ARN',
        'functions[2].name must be 1–64 letters',
        'routes[0].pathPrefix must start with "/"',
        'routes[1].function names "b", which is not in "functions"',
        'routes[1].host must be a host name',
        'header.name must be a header name',
        'header.allow["v"] names "zzz", which is not in "functions"',
      ]) {
        assert.ok(err.message.includes(part), `${part}\nin: ${err.message}`);
      }
      assert.match(err.message, /^LAMBDA_DISPATCH_Routes: /);
      return true;
    },
  );
  assert.throws(() => RouteTable.parse('{not json'), /LAMBDA_DISPATCH_Routes is not JSON/);
  assert.throws(() => RouteTable.compile({ functions: [{ name: 'a', functionName: 'a' }], routes: [] }), /nothing could reach a function/);
  assert.throws(() => RouteTable.compile({ functions: [], routes: [] }), /"functions" must list at least one function/);
});

test('parse() reads the JSON the setting holds', () => {
  const t = RouteTable.parse(JSON.stringify(SPEC));
  assert.deepEqual(t.functions.map((f) => f.name), ['api', 'images', 'beta', 'tenant']);
  assert.equal(t.headerName, 'x-lambda-dispatch-function');
});
