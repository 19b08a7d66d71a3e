// Events that are neither an HTTP event (direct.ts) nor the router's invoke payload: SQS, SNS, S3,
// EventBridge, DynamoDB and Kinesis streams, anything else a function can be subscribed to. As
// with AWS Lambda Web Adapter they are POSTed to the app at a pass-through path (default
// `/events`, LAMBDA_DISPATCH_PassThroughPath), the event's JSON as the body, and the app's answer
// is the invocation's result: its JSON body parsed, any other body as a string, an empty one as
// null. A non-2xx answer fails the invocation (an error naming the status), so that Lambda's own
// retries, DLQs and on-failure destinations apply. An SQS batch can fail in part: a 2xx answer of
// `{ "batchItemFailures": [{ "itemIdentifier": "<messageId>" }] }` is that result as is, and with
// ReportBatchItemFailures on the event source mapping SQS retries only those messages.

import { httpEventKind } from './direct.ts';
import type { AppResponse, AppTarget } from './app/target.ts';
import type { LambdaContext } from './types.ts';

/** Headers carrying the Lambda context to the app, in our naming (the runtime API's meaning). */
export const CONTEXT_HEADERS = Object.freeze({
  requestId: 'x-lambda-dispatch-request-id',
  functionArn: 'x-lambda-dispatch-function-arn',
  /** Epoch milliseconds, as Lambda's runtime API gives `Lambda-Runtime-Deadline-Ms`. */
  deadlineMs: 'x-lambda-dispatch-deadline-ms',
  /** `sqs`, `sns`, `s3`, `dynamodb`, `kinesis`, `kafka`, `eventbridge`; absent when not recognised. */
  eventKind: 'x-lambda-dispatch-event-kind',
});

/** What the handler does with an event. */
export type EventRoute = 'http' | 'router' | 'pass-through';

function obj(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/**
 * An HTTP event is served as HTTP; an object naming a `routerUrl` is the router's payload (checked,
 * and refused when malformed, never passed to the app); anything else is passed through.
 */
export function eventRoute(event: unknown): EventRoute {
  if (httpEventKind(event) !== null) return 'http';
  const e = obj(event);
  if (e !== null && 'routerUrl' in e) return 'router';
  return 'pass-through';
}

/** The kind of a non-HTTP event, from the fields AWS puts in each; null when not recognised. */
export function eventSourceKind(event: unknown): string | null {
  const e = obj(event);
  if (e === null) return null;
  if (Array.isArray(e.Records)) {
    const r = obj(e.Records[0]);
    const source = r?.eventSource ?? r?.EventSource;
    const known: Record<string, string> = { 'aws:sqs': 'sqs', 'aws:sns': 'sns', 'aws:s3': 's3', 'aws:dynamodb': 'dynamodb', 'aws:kinesis': 'kinesis' };
    return typeof source === 'string' ? (known[source] ?? null) : null;
  }
  if (e.eventSource === 'aws:kafka' || e.eventSource === 'SelfManagedKafka') return 'kafka';
  if (typeof e.source === 'string' && typeof e['detail-type'] === 'string' && 'detail' in e) return 'eventbridge';
  return null;
}

/** A non-2xx answer from the app to a passed-through event. */
export class PassThroughError extends Error {
  override name = 'PassThroughError';

  constructor(
    message: string,
    /** The app's status, or undefined when it could not be reached or its JSON did not parse. */
    readonly status?: number,
  ) {
    super(message);
  }
}

function collect(res: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

function headerOf(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

const isJson = (contentType: string | undefined) => contentType !== undefined && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType.trim());

/** Text of a body for an error message, cut short. */
function excerpt(body: Buffer): string {
  const text = body.subarray(0, 200).toString('utf8');
  return JSON.stringify(body.length > 200 ? `${text}…` : text);
}

export interface PassThroughOptions {
  path: string;
  log: (message: string) => void;
}

/** POSTs `event` to the app at `o.path` and makes its answer the invocation's result. */
export async function passThroughEvent(event: unknown, context: LambdaContext, target: AppTarget, o: PassThroughOptions): Promise<unknown> {
  const body = Buffer.from(JSON.stringify(event ?? null), 'utf8');
  const kind = eventSourceKind(event);
  const headers = ['host', 'localhost', 'content-type', 'application/json', 'content-length', String(body.length)];
  if (context.awsRequestId) headers.push(CONTEXT_HEADERS.requestId, context.awsRequestId);
  if (context.invokedFunctionArn) headers.push(CONTEXT_HEADERS.functionArn, context.invokedFunctionArn);
  headers.push(CONTEXT_HEADERS.deadlineMs, String(Date.now() + context.getRemainingTimeInMillis()));
  if (kind !== null) headers.push(CONTEXT_HEADERS.eventKind, kind);
  const what = `POST ${o.path}${kind !== null ? ` (${kind} event)` : ''}`;

  let status: number;
  let raw: string[];
  let answer: Buffer;
  try {
    const res = await new Promise<AppResponse>((resolve, reject) => {
      const req = target.request('POST', o.path, headers);
      req.on('response', resolve);
      req.on('error', reject);
      req.end(body);
    });
    status = res.statusCode ?? 0;
    raw = res.rawHeaders;
    answer = await collect(res);
  } catch (err) {
    throw new PassThroughError(`lambda-dispatch: ${what}: the app could not be reached: ${(err as Error).message}`);
  }
  if (status < 200 || status > 299) {
    throw new PassThroughError(`lambda-dispatch: ${what}: the app answered ${status}${answer.length > 0 ? `: ${excerpt(answer)}` : ''}`, status);
  }
  if (answer.length === 0) return null;
  if (!isJson(headerOf(raw, 'content-type'))) return answer.toString('utf8');
  let result: unknown;
  try {
    result = JSON.parse(answer.toString('utf8'));
  } catch (err) {
    throw new PassThroughError(`lambda-dispatch: ${what}: the app answered ${status} with a JSON content-type but a body that is not JSON (${(err as Error).message}): ${excerpt(answer)}`);
  }
  if (kind === 'sqs') checkBatchItemFailures(event, result, o.log);
  return result;
}

/**
 * Lambda fails a whole SQS batch when a batchItemFailures entry names no message of it; said here
 * once, in words, since Lambda's own account of it is only a retried batch.
 */
function checkBatchItemFailures(event: unknown, result: unknown, log: (m: string) => void): void {
  const failures = obj(result)?.batchItemFailures;
  if (failures === undefined || failures === null) return;
  const ids = new Set(((obj(event)?.Records as unknown[]) ?? []).map((r) => obj(r)?.messageId));
  const bad = !Array.isArray(failures)
    ? 'it is not a list'
    : failures
        .map((f) => obj(f)?.itemIdentifier)
        .filter((id) => typeof id !== 'string' || id === '' || !ids.has(id))
        .map((id) => `itemIdentifier ${JSON.stringify(id)} is not a messageId of the batch`)[0];
  if (bad !== undefined) log(`lambda-dispatch: the app's batchItemFailures for an SQS batch: ${bad}; Lambda will count the whole batch as failed`);
}
