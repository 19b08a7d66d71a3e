// The Lambda handler the local Lambda (and a real one) loads: the demo app behind lambda-dispatch,
// its HTTP routes and its WebSocket routes (sockets.ts).

import { createHandler } from '../extension/handler.ts';
import { demoServer } from './sockets.ts';

// The app's server rather than its request listener, so that its WebSocket routes take upgrades.
export const handler = createHandler(demoServer());
