// The pass-through of non-HTTP events on its own, against in-process apps: which events are
// passed through, the answer forms (JSON, text, empty), the failures (non-2xx, JSON that is not
// JSON, an app never ready), the warning for batchItemFailures that name no message of the batch,
// code options over the environment, and base path removal. The same behaviour through the local
// Lambda's Invoke API: test/extension-events.test.ts.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, describe, test } from 'node:test';
import { removeBasePath } from './base-path.ts';
import { parseHttpEvent } from './direct.ts';
import { eventRoute, eventSourceKind } from './events.ts';
import { closeLocalServers, createHandler, type ExtensionOptions } from './handler.ts';
import { contextFor } from './test-router.ts';

after(() => closeLocalServers());

const ctx = () => Object.assign(contextFor(30_000), { awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' });

/** An app answering each request from `answer`, remembering what it got. */
function recordingApp(answer: (req: IncomingMessage, body: string) => { status: number; type?: string; body: string }) {
  const got: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const app = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      got.push({ url: req.url ?? '', headers: req.headers, body });
      const a = answer(req, body);
      res.writeHead(a.status, a.type !== undefined ? { 'content-type': a.type } : {});
      res.end(a.body);
    });
  };
  return { app, got };
}

const quiet: ExtensionOptions = { log: () => {} };

describe('which events are passed through', () => {
  test('HTTP events are served, an object with a routerUrl is the router\'s, anything else passes through', () => {
    assert.equal(eventRoute({ version: '2.0', requestContext: { http: { method: 'GET' } } }), 'http');
    assert.equal(eventRoute({ httpMethod: 'GET', requestContext: {} }), 'http');
    assert.equal(eventRoute({ v: 1, routerUrl: 'ws://r' }), 'router');
    assert.equal(eventRoute({ routerUrl: 42 }), 'router');
    for (const e of [{ Records: [] }, { source: 'aws.events' }, { hello: 'world' }, [1, 2], 'text', 42, null, {}]) assert.equal(eventRoute(e), 'pass-through', JSON.stringify(e));
  });

  test('the kind of event, for the x-lambda-dispatch-event-kind header', () => {
    assert.equal(eventSourceKind({ Records: [{ eventSource: 'aws:sqs' }] }), 'sqs');
    assert.equal(eventSourceKind({ Records: [{ EventSource: 'aws:sns' }] }), 'sns');
    assert.equal(eventSourceKind({ Records: [{ eventSource: 'aws:s3' }] }), 's3');
    assert.equal(eventSourceKind({ Records: [{ eventSource: 'aws:dynamodb' }] }), 'dynamodb');
    assert.equal(eventSourceKind({ Records: [{ eventSource: 'aws:kinesis' }] }), 'kinesis');
    assert.equal(eventSourceKind({ eventSource: 'aws:kafka', records: {} }), 'kafka');
    assert.equal(eventSourceKind({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }), 'eventbridge');
    for (const e of [{ Records: [] }, { Records: [{ eventSource: 'aws:other' }] }, { source: 'x' }, null, 'text']) assert.equal(eventSourceKind(e), null);
  });
});

describe('the pass-through', () => {
  test('POSTs the event as JSON with the context headers; no event-kind header for an unknown event', async () => {
    const { app, got } = recordingApp(() => ({ status: 200, type: 'application/json', body: '{"ok":true}' }));
    const before = Date.now();
    assert.deepEqual(await createHandler(app, quiet)({ custom: 'event', n: [1, 2] }, ctx()), { ok: true });
    const r = got[0]!;
    assert.equal(r.url, '/events');
    assert.deepEqual(JSON.parse(r.body), { custom: 'event', n: [1, 2] });
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
    assert.equal(r.headers['x-lambda-dispatch-request-id'], 'req-1');
    assert.equal(r.headers['x-lambda-dispatch-function-arn'], 'arn:aws:lambda:us-east-1:123456789012:function:f');
    const deadline = Number(r.headers['x-lambda-dispatch-deadline-ms']);
    assert.ok(deadline >= before + 29_000 && deadline <= Date.now() + 30_000, String(deadline));
    assert.equal(r.headers['x-lambda-dispatch-event-kind'], undefined);
  });

  test('answer forms: JSON (any +json type) parsed, other types as a string, an empty body as null', async () => {
    const answers = [
      { status: 200, type: 'application/json; charset=utf-8', body: '[1,"two"]' },
      { status: 201, type: 'application/vnd.api+json', body: '{"a":1}' },
      { status: 200, type: 'text/plain', body: '{"not":"parsed"}' },
      { status: 200, body: 'no type' },
      { status: 204, body: '' },
      { status: 200, type: 'application/json', body: '' },
    ];
    let i = 0;
    const { app } = recordingApp(() => answers[i++]!);
    const handler = createHandler(app, quiet);
    const results = [];
    for (let n = 0; n < answers.length; n++) results.push(await handler({ n }, ctx()));
    assert.deepEqual(results, [[1, 'two'], { a: 1 }, '{"not":"parsed"}', 'no type', null, null]);
  });

  test('failures: a non-2xx answer, JSON that does not parse, an app that never gets ready', async () => {
    const answers = [
      { status: 503, type: 'text/plain', body: 'x'.repeat(300) },
      { status: 302, body: '' },
      { status: 200, type: 'application/json', body: '{oops' },
    ];
    let i = 0;
    const { app } = recordingApp(() => answers[i++]!);
    const handler = createHandler(app, quiet);
    await assert.rejects(handler({ Records: [{ EventSource: 'aws:sns' }] }, ctx()), (err: Error & { status?: number }) => {
      assert.equal(err.name, 'PassThroughError');
      assert.equal(err.status, 503);
      assert.match(err.message, /^lambda-dispatch: POST \/events \(sns event\): the app answered 503: "x{200}…"$/);
      return true;
    });
    await assert.rejects(handler({}, ctx()), /^PassThroughError: lambda-dispatch: POST \/events: the app answered 302$/);
    await assert.rejects(handler({}, ctx()), /the app answered 200 with a JSON content-type but a body that is not JSON .*"\{oops"/);
    // A port nothing listens on: the app never gets ready, which fails the invocation as for HTTP events.
    const gone = createHandler({ port: 1 }, { ...quiet, healthTimeoutMs: 50 });
    await assert.rejects(gone({ Records: [] }, contextFor(1000)), /did not answer GET \/health with 200/);
  });

  test('SQS: batchItemFailures that name no message of the batch are logged (Lambda would fail the whole batch)', async () => {
    const answers = [
      { status: 200, type: 'application/json', body: '{"batchItemFailures":[{"itemIdentifier":"m-2"}]}' },
      { status: 200, type: 'application/json', body: '{"batchItemFailures":[{"itemIdentifier":"nope"}]}' },
      { status: 200, type: 'application/json', body: '{"batchItemFailures":[]}' },
    ];
    let i = 0;
    const { app } = recordingApp(() => answers[i++]!);
    const logged: string[] = [];
    const handler = createHandler(app, { log: (m) => logged.push(m) });
    const batch = { Records: [{ messageId: 'm-1', eventSource: 'aws:sqs', body: 'a' }, { messageId: 'm-2', eventSource: 'aws:sqs', body: 'b' }] };
    assert.deepEqual(await handler(batch, ctx()), { batchItemFailures: [{ itemIdentifier: 'm-2' }] });
    assert.deepEqual(logged, []);
    assert.deepEqual(await handler(batch, ctx()), { batchItemFailures: [{ itemIdentifier: 'nope' }] }, 'returned as is all the same');
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /itemIdentifier "nope" is not a messageId of the batch; Lambda will count the whole batch as failed/);
    assert.deepEqual(await handler(batch, ctx()), { batchItemFailures: [] });
    assert.equal(logged.length, 1);
  });

  test('passThroughPath: the option wins over LAMBDA_DISPATCH_PassThroughPath', async () => {
    const { app, got } = recordingApp(() => ({ status: 200, body: 'ok' }));
    const saved = process.env.LAMBDA_DISPATCH_PassThroughPath;
    process.env.LAMBDA_DISPATCH_PassThroughPath = '/from-env';
    try {
      await createHandler(app, quiet)({}, ctx());
      await createHandler(app, { ...quiet, passThroughPath: '/lambda/events' })({}, ctx());
    } finally {
      if (saved === undefined) delete process.env.LAMBDA_DISPATCH_PassThroughPath;
      else process.env.LAMBDA_DISPATCH_PassThroughPath = saved;
    }
    assert.deepEqual(got.map((g) => g.url), ['/from-env', '/lambda/events']);
  });
});

describe('base path removal', () => {
  test('whole segments only', () => {
    assert.equal(removeBasePath('/prod/users', '/prod'), '/users');
    assert.equal(removeBasePath('/prod', '/prod'), '/');
    assert.equal(removeBasePath('/prod/', '/prod'), '/');
    assert.equal(removeBasePath('/production', '/prod'), '/production');
    assert.equal(removeBasePath('/v1/api/x', '/v1/api'), '/x');
    assert.equal(removeBasePath('/users', '/prod'), '/users');
    assert.equal(removeBasePath('/prod/users', undefined), '/prod/users');
  });

  test('API Gateway v1 and v2 events lose it; ALB events keep their path', () => {
    const v2 = { version: '2.0', rawPath: '/prod/a', rawQueryString: 'x=1', headers: {}, requestContext: { http: { method: 'GET', path: '/prod/a' } } };
    const v1 = { httpMethod: 'GET', path: '/prod/a', queryStringParameters: { x: '1' }, headers: {}, requestContext: { stage: 'prod' } };
    const alb = { httpMethod: 'GET', path: '/prod/a', queryStringParameters: { x: '1' }, headers: {}, requestContext: { elb: {} } };
    assert.equal(parseHttpEvent(v2, '/prod').target, '/a?x=1');
    assert.equal(parseHttpEvent(v1, '/prod').target, '/a?x=1');
    assert.equal(parseHttpEvent(alb, '/prod').target, '/prod/a?x=1');
    assert.equal(parseHttpEvent(v2).target, '/prod/a?x=1');
  });

  test('the option reaches the app through the handler', async () => {
    const { app, got } = recordingApp(() => ({ status: 200, body: 'ok' }));
    const event = { version: '2.0', rawPath: '/stage/x', rawQueryString: '', headers: {}, requestContext: { http: { method: 'GET', path: '/stage/x' } } };
    const r = await createHandler(app, { ...quiet, removeBasePath: '/stage/' })(event, ctx());
    assert.equal(r.statusCode, 200);
    assert.equal(got[0]!.url, '/x');
  });
});
