// Lambda's error shapes, as the real service sends them, so that @aws-sdk/client-lambda (restJson1)
// maps them to the same exception classes. The SDK reads the error name from the
// `x-amzn-ErrorType` header first, then `code`, then `__type` in the body; we send the header and
// `__type` both, and `message` (the SDK also accepts `Message`).

/** Body of a function error (HTTP 200 with `X-Amz-Function-Error: Unhandled`). */
export interface FunctionErrorBody {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** An error of the Invoke API itself (non-200). */
export interface ServiceError {
  status: number;
  type: string;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** Lambda's limit on a synchronous invoke request and response payload. */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

function serviceError(status: number, type: string, fields: Record<string, unknown>, headers?: Record<string, string>): ServiceError {
  return { status, type, body: { ...fields, __type: type }, ...(headers ? { headers } : {}) };
}

export function tooManyRequests(): ServiceError {
  return serviceError(429, 'TooManyRequestsException', {
    Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
    Type: 'User',
    message: 'Rate Exceeded.',
  });
}

export function resourceNotFound(functionArn: string): ServiceError {
  return serviceError(404, 'ResourceNotFoundException', { Type: 'User', Message: `Function not found: ${functionArn}` });
}

export function invalidRequestContent(detail: string): ServiceError {
  return serviceError(400, 'InvalidRequestContentException', {
    Type: 'User',
    message: `Could not parse request body into json: ${detail}`,
  });
}

export function invalidParameter(message: string): ServiceError {
  return serviceError(400, 'InvalidParameterValueException', { Type: 'User', message });
}

export function requestTooLarge(): ServiceError {
  return serviceError(413, 'RequestTooLargeException', {
    Type: 'User',
    message: `Request must be smaller than ${MAX_REQUEST_BYTES} bytes for the InvokeFunction operation`,
  });
}

export function unknownOperation(): ServiceError {
  return serviceError(404, 'UnknownOperationException', { message: 'Unknown operation' });
}

export function serviceException(message: string): ServiceError {
  return serviceError(500, 'ServiceException', { Type: 'Service', message });
}

// The messages below follow what the Lambda service (and its runtime interface emulator) report.

export function timedOut(requestId: string, timeoutS: number): FunctionErrorBody {
  return {
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${requestId} Error: Task timed out after ${timeoutS.toFixed(2)} seconds`,
  };
}

export function runtimeExit(requestId: string, detail: string): FunctionErrorBody {
  return { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${detail}` };
}

export function responseTooLarge(): FunctionErrorBody {
  return {
    errorType: 'Function.ResponseSizeTooLarge',
    errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
  };
}

/** What the Node.js runtime reports for a thrown value (its `toRapidResponse`). */
export function toFunctionError(thrown: unknown): FunctionErrorBody {
  try {
    if (thrown instanceof Error || looksLikeError(thrown)) {
      return { errorType: thrown.name, errorMessage: thrown.message, trace: (thrown.stack ?? '').split('\n') };
    }
    return { errorType: typeof thrown, errorMessage: String(thrown), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack' };
  }
}

function looksLikeError(v: unknown): v is Error {
  const o = v as { name?: unknown; message?: unknown; stack?: unknown } | null;
  return typeof o === 'object' && o !== null && typeof o.name === 'string' && typeof o.message === 'string' && typeof o.stack === 'string';
}
