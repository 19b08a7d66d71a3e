// ALB events without multi-value headers carry one value per header: of several `set-cookie`s only
// the last reaches the client (ALB's own rule). The extension keeps that rule and says so, once
// per execution environment.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { demoApp } from '../demo/app.ts';
import { resetCookieWarning } from './direct.ts';
import { closeLocalServers, createHandler } from './handler.ts';
import { contextFor } from './test-router.ts';

after(() => closeLocalServers());

const handler = createHandler(demoApp, { log: () => {} });

function alb(path: string, multi: boolean) {
  const headers = { host: 'my-alb-123.us-east-1.elb.amazonaws.com', 'x-forwarded-for': '192.0.2.1' };
  return {
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/tg/1' } },
    httpMethod: 'GET',
    path,
    ...(multi
      ? { multiValueQueryStringParameters: {}, multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])) }
      : { queryStringParameters: {}, headers }),
    body: '',
    isBase64Encoded: false,
  };
}

test('ALB without multi-value headers: the last set-cookie only, and one warning naming the setting', async (t) => {
  resetCookieWarning();
  const warn = t.mock.method(console, 'warn', () => {});
  const single = await handler(alb('/cookies', false), contextFor(30_000));
  assert.equal(single.headers?.['set-cookie'], 'b=2; Path=/');
  assert.equal(single.multiValueHeaders, undefined);
  await handler(alb('/cookies', false), contextFor(30_000));
  const warnings = warn.mock.calls.map((c) => String(c.arguments[0])).filter((m) => m.includes('set-cookie'));
  assert.equal(warnings.length, 1, 'once per environment');
  assert.match(warnings[0]!, /2 cookies .* only the last set-cookie .*multi_value_headers\.enabled/);

  // With multi-value headers every cookie goes through, and nothing is said.
  resetCookieWarning();
  const multi = await handler(alb('/cookies', true), contextFor(30_000));
  assert.deepEqual(multi.multiValueHeaders?.['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  // One cookie fits the single-value form: nothing is dropped, nothing said.
  await handler(alb('/ping', false), contextFor(30_000));
  assert.equal(warn.mock.calls.filter((c) => String(c.arguments[0]).includes('set-cookie')).length, 1);
});
