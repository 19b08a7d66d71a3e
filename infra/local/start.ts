// `npm start`: the whole system on one machine with no AWS — the local Lambda running the demo
// function, and the router invoking it through the real SDK. Every port and setting comes from
// the environment (README: Configuration). Ctrl-C drains the router as SIGTERM does in production
// (LAMBDA_DISPATCH_ShutdownGraceMs), then stops everything; it is all one process.
// It lives with the local Lambda, not in ingress/, so that the router never imports the tooling:
// the arrow goes from the tooling to the router only.

import { fileURLToPath } from 'node:url';
import { ConfigError, loadRouterConfig } from '../../core/config.ts';
import { startRouter } from '../../ingress/router.ts';
import { drainOnSignals } from '../../ingress/serve.ts';
import { checkHandler } from './handler-check.ts';
import { localLambdaOptionsFromEnv, startLocalLambda } from './lambda-service.ts';

const DEMO_FUNCTION = fileURLToPath(new URL('../../demo/function.ts', import.meta.url));

function fail(err: unknown): never {
  console.error(`lambda-dispatch: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

let lambdaOptions;
let config;
try {
  lambdaOptions = localLambdaOptionsFromEnv(process.env, { handlerModule: DEMO_FUNCTION });
  config = loadRouterConfig(process.env); // validated before anything listens
} catch (err) {
  if (err instanceof ConfigError || err instanceof Error) fail(err);
  throw err;
}

// A module of one's own is loaded once before anything listens: a missing file, a module that
// throws or one without the export stops here, naming LOCAL_LAMBDA_HANDLER.
if (process.env.LOCAL_LAMBDA_HANDLER) await checkHandler(lambdaOptions).catch(fail);

const lambda = await startLocalLambda({ ...lambdaOptions, log: (line) => console.log(`[local-lambda] ${line}`) }).catch(fail);
// The local Lambda checks no signature; fixed credentials keep the SDK from looking for real ones.
process.env.AWS_ACCESS_KEY_ID = 'local';
// Node 20 is fine for local runs; the deploy targets are 22 and 24.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.AWS_SECRET_ACCESS_KEY = 'local';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;
config = loadRouterConfig({ ...process.env, AWS_ENDPOINT_URL_LAMBDA: lambda.url });
const router = await startRouter({ config, bindHost: config.bindHost ?? '127.0.0.1' }).catch(async (err) => {
  await lambda.close();
  fail(err);
});

console.log(`local Lambda  ${lambda.url}  (function ${config.functionName}, concurrency ${lambdaOptions.concurrency})`);
console.log(`router        ${router.url}  (control port ${router.controlPort})`);
console.log(`admin         ${router.adminUrl}  (the router's status; not on the client port)`);
console.log(`try           curl ${router.url}/ping`);
console.log(`status        curl ${router.adminUrl}/_lambda_dispatch/status`);
console.log(`metrics       curl ${router.adminUrl}/metrics  (Prometheus text)`);
console.log(`dashboard     ${router.adminUrl}/_lambda_dispatch/dashboard  (live charts; open it in a browser)`);

// The router's own drain (LAMBDA_DISPATCH_ShutdownGraceMs), then the local Lambda; Ctrl-C twice: now.
drainOnSignals(router, config.shutdownGraceMs, (line) => console.log(`stopping: ${line}`), () => lambda.close());
