// The Lambda handler the local Lambda (and a real one) loads: the demo app behind lambda-dispatch.

import { createHandler } from '../extension/handler.ts';
import { demoApp } from './app.ts';

export const handler = createHandler(demoApp);
