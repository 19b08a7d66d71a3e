// The Lambda handler module of the express4 conformance app, served in-process (loaded by the local Lambda).

import { createHandler } from '../../../extension/handler.ts';
import { app } from '../apps/express4.ts';

export const handler = createHandler(await app.handlerApp());
