// The Lambda handler module of the hono conformance app, served in-process (loaded by the local Lambda).

import { createHandler } from '../../../extension/handler.ts';
import { app } from '../apps/hono.ts';

export const handler = createHandler(await app.handlerApp());
