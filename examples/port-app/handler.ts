// The Lambda function: an app that listens on a port by itself, started with `command` in each
// execution environment (its files are shipped with `copyFiles`, see sst.config.ts). The port is
// LAMBDA_DISPATCH_PORT (3001 unless set), which the app is given as PORT.
import { createHandler } from 'lambda-dispatch/extension';

export const handler = createHandler({ command: 'node server.mjs', healthPath: '/health' });
