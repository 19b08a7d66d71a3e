// Entry of the router bundle (dist/router/main.js, what the container runs): the compiled
// dispatcher thread sits next to it, so no TypeScript loader is needed.

import { serveRouter } from '../../ingress/serve.ts';

await serveRouter({ threadFile: new URL('./dispatcher-thread.js', import.meta.url), defaultBindHost: '0.0.0.0' });
