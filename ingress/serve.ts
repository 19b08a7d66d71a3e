// The router process as the container, `sst dev` and ingress/main.ts run it: settings, the callback
// host from ECS task metadata and a choice of dispatcher thread file. Settings come from the
// environment (README: Configuration); SIGTERM drains for LAMBDA_DISPATCH_ShutdownGraceMs and the
// exit code says whether anything was cut.

import { loadRouterConfig } from '../core/config.ts';
import { SETTING_INVALID, SettingError } from '../core/settings/env.ts';
import { startRouter, type Router } from './router.ts';
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

  let router: Router;
  try {
    router = await startRouter({
      config,
      bindHost: config.bindHost ?? o.defaultBindHost,
      ...(o.threadFile ? { threadFile: o.threadFile } : {}),
    });
  } catch (err) {
    // A setting only the start can check (a certificate file that does not load, on the dispatcher
    // thread: the error crosses the thread boundary as a plain Error that keeps its code).
    if (!(err instanceof Error) || (err as NodeJS.ErrnoException).code !== SETTING_INVALID) throw err;
    console.error(`lambda-dispatch: ${err.message}`);
    process.exit(1);
  }
  console.log(
    `lambda-dispatch router: ${router.url} (control port ${router.controlPort}, admin ${router.adminUrl}, callback host ${callback.host} from ${callback.source}, function ${config.functionName})`,
  );
  drainOnSignals(router, config.shutdownGraceMs, (line) => console.log(`lambda-dispatch router: ${line}`));
}

/**
 * SIGTERM (and SIGINT) drain the router within graceMs (Router.close with waitForClients), then
 * exit: 0 when nothing was cut, 1 when requests were still in flight at the end of the grace. A
 * second signal exits at once (1). Shared by the container entry and `npm start`.
 */
export function drainOnSignals(
  router: Router,
  graceMs: number,
  log: (line: string) => void,
  after: () => Promise<void> = async () => {},
): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        log(`${signal} again: exiting without waiting`);
        process.exit(1);
      }
      stopping = true;
      log(`${signal}, draining (grace ${graceMs} ms): health answers 503, new requests get 503 with Connection: close`);
      router
        .close(graceMs, { waitForClients: true })
        .then(async (r) => {
          const cut = r.cut.answered + r.cut.reset;
          const idle = r.idleConnectionsClosed > 0 ? `; closed ${r.idleConnectionsClosed} idle connection(s) at the end of the grace` : '';
          if (cut > 0) {
            log(
              `drain: ${cut} request(s) cut at the end of the ${graceMs} ms grace (${r.cut.answered} answered 503 before their response began, ${r.cut.reset} reset mid-response)${idle}`,
            );
          } else {
            log(`drained in ${r.ms} ms, nothing cut${idle}`);
          }
          await after();
          process.exit(cut > 0 ? 1 : 0);
        })
        .catch((err: unknown) => {
          console.error(err);
          process.exit(1);
        });
    });
  }
}
