// A conformance app as its own process, for the `{ port, command }` mode:
//   node --import tsx test/conformance/apps/serve.ts <express4|express5|koa|fastify|hono>
// listens on 127.0.0.1:$PORT with the framework's own server. For the tests' clean-up it writes
// its pid into $APP_PID_DIR (when set), and it never outlives its parent (checked every 500 ms)
// nor $EXIT_AFTER_MS (a safety net).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadApp } from './index.ts';

const name = process.argv[2] ?? '';
const port = Number(process.env.PORT);
const app = await loadApp(name);
await app.listen(port, '127.0.0.1');
if (process.env.APP_PID_DIR) writeFileSync(join(process.env.APP_PID_DIR, String(process.pid)), `${name} ${port}\n`);
console.log(`conformance app ${app.label} on 127.0.0.1:${port} (pid ${process.pid})`);

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
if (process.env.EXIT_AFTER_MS) setTimeout(() => process.exit(0), Number(process.env.EXIT_AFTER_MS)).unref();
process.on('SIGTERM', () => process.exit(0));
