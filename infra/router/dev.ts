// `sst dev` runs this in place of the Fargate service (the Service's dev.command): the router from
// sources, on loopback. The function runs live on this machine too, so 127.0.0.1 is the right
// callback host.
//   node --import tsx infra/router/dev.ts

import { serveRouter } from '../../ingress/serve.ts';

await serveRouter({ defaultBindHost: '127.0.0.1' });
