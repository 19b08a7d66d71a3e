// The router's process entry from sources (the container runs the bundle of infra/router/main.ts,
// which is the same with the compiled worker): settings from the environment, the callback host
// found (ECS task metadata when on ECS), graceful drain on SIGTERM.

import { serveRouter } from './serve.ts';

await serveRouter({ defaultBindHost: '0.0.0.0' });
