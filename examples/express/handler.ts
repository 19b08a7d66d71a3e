// The Lambda function: the app behind lambda-dispatch's extension.
import { createHandler } from 'lambda-dispatch/extension';
import { app } from './app.ts';

export const handler = createHandler(app);
