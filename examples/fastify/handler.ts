// The Lambda function: Fastify's request listener (`routing`, once the app is ready) behind
// lambda-dispatch's extension.
import { createHandler } from 'lambda-dispatch/extension';
import { app } from './app.ts';

await app.ready();
export const handler = createHandler(app.routing);
