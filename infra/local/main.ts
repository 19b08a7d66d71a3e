// CLI: the local Lambda service from the environment (see localLambdaOptionsFromEnv), serving the
// demo function unless LOCAL_LAMBDA_HANDLER names another module.
//   tsx infra/local/main.ts      or      node --import tsx infra/local/main.ts

import { fileURLToPath } from 'node:url';
import { checkHandler } from './handler-check.ts';
import { localLambdaOptionsFromEnv, startLocalLambda } from './lambda-service.ts';

const DEMO_HANDLER = fileURLToPath(new URL('../../demo/function.ts', import.meta.url));

async function main(): Promise<void> {
  const opts = localLambdaOptionsFromEnv(process.env, { handlerModule: DEMO_HANDLER });
  // Fail at start rather than on every invocation with Runtime.ImportModuleError or HandlerNotFound.
  if (process.env.LOCAL_LAMBDA_HANDLER) await checkHandler(opts);
  const quiet = process.env['LOCAL_LAMBDA_QUIET'] === 'true';
  const lambda = await startLocalLambda({
    ...opts,
    ...(quiet ? {} : { log: (line: string) => console.log(`[local-lambda] ${line}`) }),
  });
  console.log(
    `[local-lambda] ${opts.functionName} listening on ${lambda.url} ` +
      `(concurrency ${opts.concurrency}, timeout ${opts.timeoutS} s, ${opts.memoryMb} MB, handler ${opts.handlerModule})`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    lambda.close().then(
      () => {
        const l = lambda.ledger();
        console.log(
          `[local-lambda] ${signal}: stopped after ${l.invocations} invocations, ${l.coldStarts} cold starts, ` +
            `${l.gbSeconds.toFixed(3)} GB-s, ${l.errors} errors, ${l.throttles} throttles`,
        );
      },
      (err: unknown) => {
        console.error('[local-lambda] error while stopping:', err);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`[local-lambda] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
