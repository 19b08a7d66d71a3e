// The router process as the container, `sst dev` and ingress/main.ts run it: settings, the callback
// host from ECS task metadata and a choice of dispatcher thread file. Settings come from the
// environment (README: Configuration); SIGTERM drains for LAMBDA_DISPATCH_ShutdownGraceMs.

import { loadRouterConfig } from '../core/config.ts';
import { SettingError } from '../core/settings/env.ts';
import { startRouter } from './router.ts';
import { resolveCallbackHost } from './callback-host.ts';

export async function serveRouter(o: { threadFile?: URL; defaultBindHost: string }): Promise<void> {
  let config;
  try {
    config = loadRouterConfig(process.env);
  } catch (err) {
    if (!(err instanceof SettingError)) throw err;
    console.error(`lambda-dispatch: ${err.message}`);
    process.exit(1);
  }
  const callback = await resolveCallbackHost(process.env, { log: (line) => console.error(`lambda-dispatch router: ${line}`) });
  config = Object.freeze({ ...config, callbackHost: callback.host });

  const router = await startRouter({
    config,
    bindHost: config.bindHost ?? o.defaultBindHost,
    ...(o.threadFile ? { threadFile: o.threadFile } : {}),
  });
  console.log(
    `lambda-dispatch router: ${router.url} (control port ${router.controlPort}, callback host ${callback.host} from ${callback.source}, function ${config.functionName})`,
  );

  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      console.log(`lambda-dispatch router: ${signal}, draining`);
      router.close(config.shutdownGraceMs).then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}
