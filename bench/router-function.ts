// The function the bench's router targets invoke: the demo app behind lambda-dispatch, as
// demo/function.ts (its HTTP and WebSocket routes), except that the extension's per-request log lines go to /dev/null. They are
// still made and written (their CPU is counted in the Lambda side's figures, as on Lambda), but
// they do not land in the bench's own output, which shares the local Lambda's stdout.

import { destination } from 'pino';
import { demoServer } from '../demo/sockets.ts';
import { createHandler } from '../extension/handler.ts';
import { createExtensionLogger } from '../extension/request-log.ts';

export const handler = createHandler(demoServer(), { logger: createExtensionLogger(process.env, destination({ dest: '/dev/null', sync: false, minLength: 4096, periodicFlush: 1000 })) });
