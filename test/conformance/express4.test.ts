// Conformance of the express4 app: directly vs. through the router, in-process and as `{ port, command }` (suite.ts).

import { app } from './apps/express4.ts';
import { conformanceSuite } from './suite.ts';

conformanceSuite(app);
