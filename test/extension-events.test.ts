// Non-HTTP events through the local Lambda's Invoke API, with the real @aws-sdk/client-lambda:
// an SQS batch with a partial failure, an EventBridge schedule, an S3 notification and an SNS
// message each reach the app at POST /events (asserted from what the app received: path, body,
// the Lambda context headers) and the app's answer is the Invoke result; a non-2xx answer is a
// function error. API Gateway v1 and v2 events lose the stage's base path on the way in.

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { startLocalLambda, type LocalLambda } from '../infra/local/lambda-service.ts';

const FN = 'events-fn';
const HANDLER = fileURLToPath(new URL('./fixtures/events-function.ts', import.meta.url));
const TIMEOUT_S = 30;

let lambda: LocalLambda;
let client: LambdaClient;

before(async () => {
  // One environment, so that the app's record of what it received is there for the next invoke.
  lambda = await startLocalLambda({
    functionName: FN, handlerModule: HANDLER, concurrency: 1, timeoutS: TIMEOUT_S, memoryMb: 512, initMs: 0,
    env: { LAMBDA_DISPATCH_RemoveBasePath: '/prod' },
  });
  client = new LambdaClient({ endpoint: lambda.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
});

after(async () => {
  client.destroy();
  await lambda.close();
});

async function invoke(event: unknown): Promise<{ out: InvokeCommandOutput; result: any }> {
  const out = await client.send(new InvokeCommand({ FunctionName: FN, Payload: new TextEncoder().encode(JSON.stringify(event)) }));
  return { out, result: JSON.parse(new TextDecoder().decode(out.Payload)) };
}

interface Received {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What the app received last, asked through a Function URL event. */
async function lastReceived(): Promise<Received> {
  const { result } = await invoke({
    version: '2.0', rawPath: '/received', rawQueryString: '', headers: {},
    requestContext: { http: { method: 'GET', path: '/received', sourceIp: '203.0.113.1' } }, isBase64Encoded: false,
  });
  assert.equal(result.statusCode, 200);
  const all = JSON.parse(result.body) as Received[];
  return all[all.length - 1]!;
}

/** The app got `event` at POST /events with the context of the invocation `out`. */
function assertPassedThrough(r: Received, event: unknown, out: InvokeCommandOutput, kind: string, sentAt: number): void {
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/events');
  assert.deepEqual(JSON.parse(r.body), event);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-lambda-dispatch-request-id'], out.$metadata.requestId);
  assert.match(r.headers['x-lambda-dispatch-function-arn']!, new RegExp(`^arn:aws:lambda:us-east-1:\\d{12}:function:${FN}$`));
  const deadline = Number(r.headers['x-lambda-dispatch-deadline-ms']);
  assert.ok(deadline > sentAt && deadline <= Date.now() + TIMEOUT_S * 1000, `deadline ${deadline}`);
  assert.equal(r.headers['x-lambda-dispatch-event-kind'], kind);
}

const sqsRecord = (messageId: string, body: string) => ({
  messageId, receiptHandle: `rh-${messageId}`, body, attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' },
  messageAttributes: {}, md5OfBody: 'x', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:orders', awsRegion: 'us-east-1',
});

describe('non-HTTP events through the Invoke API', () => {
  test('SQS batch with a partial failure: the result is the app\'s batchItemFailures, as SQS reads it', async () => {
    const event = { Records: [sqsRecord('m-1', 'ok'), sqsRecord('m-2', 'fail'), sqsRecord('m-3', 'ok')] };
    const sentAt = Date.now();
    const { out, result } = await invoke(event);
    assert.equal(out.FunctionError, undefined);
    assert.deepEqual(result, { batchItemFailures: [{ itemIdentifier: 'm-2' }] });
    assertPassedThrough(await lastReceived(), event, out, 'sqs', sentAt);
  });

  test('EventBridge schedule: the app\'s JSON answer is the result', async () => {
    const event = {
      version: '0', id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012',
      time: '2024-01-01T00:00:00Z', region: 'us-east-1', resources: ['arn:aws:events:us-east-1:123456789012:rule/nightly'], detail: {},
    };
    const sentAt = Date.now();
    const { out, result } = await invoke(event);
    assert.equal(out.FunctionError, undefined);
    // The app answered with what it received: the result is that JSON, parsed.
    assertPassedThrough(result as Received, event, out, 'eventbridge', sentAt);
  });

  test('S3 notification: a text answer is the result as a string', async () => {
    const event = {
      Records: [{
        eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventTime: '2024-01-01T00:00:00.000Z', eventName: 'ObjectCreated:Put',
        s3: { s3SchemaVersion: '1.0', bucket: { name: 'uploads', arn: 'arn:aws:s3:::uploads' }, object: { key: 'photos/cat.jpg', size: 1024, eTag: 'e' } },
      }],
    };
    const sentAt = Date.now();
    const { out, result } = await invoke(event);
    assert.equal(out.FunctionError, undefined);
    assert.equal(result, 'stored photos/cat.jpg');
    assertPassedThrough(await lastReceived(), event, out, 's3', sentAt);
  });

  test('SNS message: any 2xx counts (202 here), its JSON is the result', async () => {
    const event = {
      Records: [{
        EventVersion: '1.0', EventSource: 'aws:sns', EventSubscriptionArn: 'arn:aws:sns:us-east-1:123456789012:alerts:1',
        Sns: { Type: 'Notification', MessageId: 'n-1', TopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts', Subject: 'disk full', Message: '/var is at 99%', Timestamp: '2024-01-01T00:00:00.000Z' },
      }],
    };
    const sentAt = Date.now();
    const { out, result } = await invoke(event);
    assert.equal(out.FunctionError, undefined);
    assert.deepEqual(result, { notified: 'disk full' });
    assertPassedThrough(await lastReceived(), event, out, 'sns', sentAt);
  });

  test('a non-2xx answer is a function error naming the status (so Lambda retries, or sends to the DLQ)', async () => {
    const { out, result } = await invoke({ Records: [sqsRecord('m-9', 'crash')] });
    assert.equal(out.FunctionError, 'Unhandled');
    assert.equal(result.errorType, 'PassThroughError');
    assert.match(result.errorMessage, /^lambda-dispatch: POST \/events \(sqs event\): the app answered 500: "could not process the batch\\n"$/);
    const unknown = await invoke({ hello: 'world' });
    assert.equal(unknown.out.FunctionError, 'Unhandled');
    assert.match(unknown.result.errorMessage, /the app answered 400/);
  });
});

describe('LAMBDA_DISPATCH_RemoveBasePath=/prod', () => {
  const v1 = (path: string) => ({
    resource: '/{proxy+}', path, httpMethod: 'GET', headers: {}, multiValueHeaders: {}, queryStringParameters: { q: 'a b' }, multiValueQueryStringParameters: { q: ['a b'] },
    requestContext: { identity: { sourceIp: '198.51.100.1' }, stage: 'prod' }, body: null, isBase64Encoded: false,
  });
  const v2 = (rawPath: string) => ({
    version: '2.0', rawPath, rawQueryString: 'q=1', headers: {},
    requestContext: { http: { method: 'GET', path: rawPath, sourceIp: '203.0.113.1' }, stage: 'prod' }, isBase64Encoded: false,
  });
  const pathSeen = async (event: unknown) => {
    const { out, result } = await invoke(event);
    assert.equal(out.FunctionError, undefined);
    assert.equal(result.statusCode, 200);
    return (JSON.parse(result.body) as { path: string }).path;
  };

  test('API Gateway v1: taken off the path; a path without it is left alone', async () => {
    assert.equal(await pathSeen(v1('/prod/users/7')), '/users/7?q=a%20b');
    assert.equal(await pathSeen(v1('/prod')), '/?q=a%20b');
    assert.equal(await pathSeen(v1('/users/7')), '/users/7?q=a%20b');
    assert.equal(await pathSeen(v1('/production/x')), '/production/x?q=a%20b');
  });

  test('API Gateway v2: taken off rawPath; the query stays', async () => {
    assert.equal(await pathSeen(v2('/prod/users/7')), '/users/7?q=1');
    assert.equal(await pathSeen(v2('/prod/')), '/?q=1');
    assert.equal(await pathSeen(v2('/products')), '/products?q=1');
  });
});
