// Conformance of the koa app: directly vs. through the router, in-process and as `{ port, command }` (suite.ts).

import { app } from './apps/koa.ts';
import { conformanceSuite } from './suite.ts';

conformanceSuite(app);
