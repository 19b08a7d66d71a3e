// The handler module named by LOCAL_LAMBDA_HANDLER, checked before anything listens: the file
// exists, the module loads and its export is a function. Otherwise every invoke would fail with the
// same init error, and `npm start` would come up and leave each request waiting for its queue
// timeout with the reason only in the log. The load happens in a throwaway execution environment
// (the same code as a real one: TypeScript through tsx, its own port, and whatever the module
// starts, e.g. a `{ port, command }` app, ended with it).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { environmentPoolFor } from './environment-pool.ts';
import type { LocalLambdaOptions } from './options.ts';

export class HandlerCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerCheckError';
  }
}

/** Throws a HandlerCheckError naming `variable` when the handler cannot be loaded. */
export async function checkHandler(opts: LocalLambdaOptions, variable = 'LOCAL_LAMBDA_HANDLER'): Promise<void> {
  const path = opts.handlerModule.startsWith('file:') ? fileURLToPath(opts.handlerModule) : opts.handlerModule;
  if (!existsSync(path)) throw new HandlerCheckError(`${variable}: no such module ${path}`);
  const pool = environmentPoolFor({ ...opts, concurrency: 1, initMs: 0, log: () => {} });
  try {
    const out = await pool.tryInvoke({ requestId: 'handler-check', payload: '{}', initOnly: true });
    if (out !== undefined && !out.ok) {
      throw new HandlerCheckError(`${variable}: ${path} cannot serve: ${out.error.errorType}: ${out.error.errorMessage}`);
    }
  } finally {
    await pool.close();
  }
}
