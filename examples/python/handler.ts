// The Lambda function: the Python app, started with `command` in each execution environment and
// served on the port it is given as PORT (LAMBDA_DISPATCH_PORT, 3001 unless set). Lambda's
// managed Node.js runtime has no Python, so this function is deployed as a container image
// (Dockerfile) that has both.
import { createHandler } from 'lambda-dispatch/extension';

export const handler = createHandler({ command: 'python3 app.py', healthPath: '/health' });
