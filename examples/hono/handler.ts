// The Lambda function: the Hono app (it has a `fetch` method) behind lambda-dispatch's extension.
import { createHandler } from 'lambda-dispatch/extension';
import { app } from './app.ts';

export const handler = createHandler(app);
