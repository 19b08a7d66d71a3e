// Starts an instance: one RequestResponse invoke of the function, held open for as long as the
// instance serves. The outcome is classified so the dispatcher can count and back off by kind.

import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { InvokePayload } from '../protocol.ts';

export type { InvokePayload };

export type InvokeOutcome =
  | { kind: 'returned'; exitReason: string; requests: number; error?: string }
  | { kind: 'function-error'; errorType: string; message: string }
  | { kind: 'throttled'; message: string }
  | { kind: 'error'; name: string; message: string };

export type InvokeFailureKind = Exclude<InvokeOutcome['kind'], 'returned'> | 'connect-failed';

export interface InvokerOptions {
  functionName: string;
  region: string;
  endpoint: string | undefined;
  functionTimeoutMs: number;
}

export class Invoker {
  private readonly client: LambdaClient;
  private readonly functionName: string;

  constructor(o: InvokerOptions) {
    this.functionName = o.functionName;
    // Each instance holds one invoke open for its whole life: the SDK's default pool of 50 sockets
    // would cap the fleet, and its timeout must outlast the function's own.
    const agentOptions = { keepAlive: true, maxSockets: Infinity };
    this.client = new LambdaClient({
      region: o.region,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      maxAttempts: 1,
      requestHandler: {
        requestTimeout: o.functionTimeoutMs + 10_000,
        connectionTimeout: 5_000,
        httpAgent: new Agent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
      },
    });
  }

  async invoke(payload: InvokePayload): Promise<InvokeOutcome> {
    try {
      const out = await this.client.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(payload)),
        }),
      );
      const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : 'null';
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      if (out.FunctionError) {
        const b = (body ?? {}) as { errorType?: unknown; errorMessage?: unknown };
        return {
          kind: 'function-error',
          errorType: typeof b.errorType === 'string' ? b.errorType : out.FunctionError,
          message: typeof b.errorMessage === 'string' ? b.errorMessage : text.slice(0, 500),
        };
      }
      const r = (body ?? {}) as { exitReason?: unknown; requests?: unknown; error?: unknown };
      return {
        kind: 'returned',
        exitReason: typeof r.exitReason === 'string' ? r.exitReason : 'unknown',
        requests: typeof r.requests === 'number' ? r.requests : 0,
        ...(typeof r.error === 'string' ? { error: r.error } : {}),
      };
    } catch (err) {
      const e = err as Error;
      if (e.name === 'TooManyRequestsException') return { kind: 'throttled', message: e.message };
      return { kind: 'error', name: e.name || 'Error', message: e.message };
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
