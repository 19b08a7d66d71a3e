// The router's process entry in production (the container): settings from the environment,
// graceful drain on SIGTERM (ECS sends it before SIGKILL; STOPSIGNAL in the Dockerfile).

import { ConfigError, loadRouterConfig } from '../core/config.ts';
import { startRouter } from './router.ts';

let config;
try {
  config = loadRouterConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`lambda-dispatch: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

const router = await startRouter({ config, bindHost: process.env.LAMBDA_DISPATCH_BindHost?.trim() || '0.0.0.0' });
console.log(`lambda-dispatch router: ${router.url} (control port ${router.controlPort}, function ${config.functionName})`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`lambda-dispatch router: ${signal}, draining`);
    router.close(Number(process.env.LAMBDA_DISPATCH_ShutdownGraceMs ?? 20_000)).then(
      () => process.exit(0),
      (err: Error) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
