// Conformance of the fastify app: directly vs. through the router, in-process and as `{ port, command }` (suite.ts).

import { app } from './apps/fastify.ts';
import { conformanceSuite } from './suite.ts';

conformanceSuite(app);
