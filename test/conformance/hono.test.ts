// Conformance of the hono app: directly vs. through the router, in-process and as `{ port, command }` (suite.ts).

import { app } from './apps/hono.ts';
import { conformanceSuite } from './suite.ts';

conformanceSuite(app);
