// `npm start`: the whole system on one machine with no AWS (stack.ts) with the demo function, or
// the module LOCAL_LAMBDA_HANDLER names. Ctrl-C drains the router as SIGTERM does in production
// (LAMBDA_DISPATCH_ShutdownGraceMs), then stops everything; it is all one process.
// It lives with the local Lambda, not in ingress/, so that the router never imports the tooling:
// the arrow goes from the tooling to the router only.

import { fileURLToPath } from 'node:url';
import { drainOnSignals } from '../package/router.ts';
import { describeLocalStack, startLocalStack } from './stack.ts';

const DEMO_FUNCTION = fileURLToPath(new URL('../../demo/function.ts', import.meta.url));

const stack = await startLocalStack({
  env: process.env,
  handlerModule: DEMO_FUNCTION,
  // A module of one's own is loaded once before anything listens, naming LOCAL_LAMBDA_HANDLER.
  ...(process.env.LOCAL_LAMBDA_HANDLER ? { check: { name: 'LOCAL_LAMBDA_HANDLER' } } : {}),
  log: (line) => console.log(line),
}).catch((err: unknown) => {
  console.error(`lambda-dispatch: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

for (const line of describeLocalStack(stack, '/ping')) console.log(line);

// The router's own drain (LAMBDA_DISPATCH_ShutdownGraceMs), then the local Lambda; Ctrl-C twice: now.
drainOnSignals(stack.router, stack.config.shutdownGraceMs, (line) => console.log(`stopping: ${line}`), () => stack.lambda.close());
