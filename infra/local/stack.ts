// The whole system on one machine with no AWS: the local Lambda serving a handler module, and the
// router invoking it through the real SDK. `npm start` runs it with the demo function,
// `lambda-dispatch local handler.mjs` with the user's own. Every port and setting comes from the
// environment (README: Configuration). The router is the package's router module, so that the
// bundled CLI runs the bundled router (dist/router/) and the sources run the sources.

import { loadRouterConfig, type RouterConfig } from '../../core/config.ts';
import type { Router } from '../package/router.ts';
import { checkHandler } from './handler-check.ts';
import { localLambdaOptionsFromEnv, startLocalLambda, type LocalLambda, type LocalLambdaOptions } from './lambda-service.ts';

export interface LocalStackOptions {
  /** LAMBDA_DISPATCH_* and LOCAL_LAMBDA_* settings; the AWS credentials in it are replaced. */
  env: NodeJS.ProcessEnv;
  /** Used when the environment names no LOCAL_LAMBDA_HANDLER. */
  handlerModule: string;
  handlerExport?: string;
  /** Load the module once before anything listens (a user's module: fail early, naming `checkName`). */
  check?: { name: string };
  log: (line: string) => void;
}

export interface LocalStack {
  lambda: LocalLambda;
  lambdaOptions: LocalLambdaOptions;
  router: Router;
  config: RouterConfig;
}

export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  const lambdaOptions: LocalLambdaOptions = {
    ...localLambdaOptionsFromEnv(o.env, { handlerModule: o.handlerModule }),
    ...(o.handlerExport ? { handlerExport: o.handlerExport } : {}),
  };
  loadRouterConfig(o.env); // validated before anything listens
  // A missing file, a module that throws or one without the export stops here.
  if (o.check) await checkHandler(lambdaOptions, o.check.name);
  const lambda = await startLocalLambda({ ...lambdaOptions, log: (line) => o.log(`[local-lambda] ${line}`) });
  // The local Lambda checks no signature; fixed credentials keep the SDK from looking for real
  // ones. The dispatcher thread reads them from the process's environment when it starts.
  process.env.AWS_ACCESS_KEY_ID = 'local';
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  // Node 20 is fine for local runs; the deploy targets are 22 and 24.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  const config = loadRouterConfig({ ...o.env, AWS_ENDPOINT_URL_LAMBDA: lambda.url });
  try {
    // Imported here so that a CLI that never starts a router never loads one.
    const { startRouter } = await import('../package/router.ts');
    const router = await startRouter({ config, bindHost: config.bindHost ?? '127.0.0.1' });
    return { lambda, lambdaOptions, router, config };
  } catch (err) {
    await lambda.close();
    throw err;
  }
}

/** The lines `npm start` and `lambda-dispatch local` print once everything listens. */
export function describeLocalStack(s: LocalStack, tryPath: string): string[] {
  return [
    `local Lambda  ${s.lambda.url}  (function ${s.config.functionName}, concurrency ${s.lambdaOptions.concurrency})`,
    `router        ${s.router.url}  (control port ${s.router.controlPort})`,
    `admin         ${s.router.adminUrl}  (the router's status; not on the client port)`,
    `try           curl ${s.router.url}${tryPath}`,
    `status        curl ${s.router.adminUrl}/_lambda_dispatch/status`,
    `metrics       curl ${s.router.adminUrl}/metrics  (Prometheus text)`,
    `dashboard     ${s.router.adminUrl}/_lambda_dispatch/dashboard  (live charts; open it in a browser)`,
  ];
}
