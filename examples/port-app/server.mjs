// An app that listens on a port of its own, as a Next.js standalone build (`node
// .next/standalone/server.js`) or any other server does: started by the extension with
// `command`, and served once GET /health answers 200.
import { createServer } from 'node:http';

// The extension passes the port it serves (LAMBDA_DISPATCH_PORT, 3001 unless set) as PORT.
const port = Number(process.env.PORT ?? 3001);

createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/health') return void res.end('ok');
  const id = /^\/users\/([^/]+)$/.exec(url.pathname)?.[1];
  if (id) return void res.setHeader('content-type', 'application/json').end(JSON.stringify({ id }));
  if (req.method === 'POST' && url.pathname === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ received: JSON.parse(Buffer.concat(chunks).toString() || 'null') })));
    return;
  }
  if (url.pathname === '/') return void res.setHeader('content-type', 'application/json').end(JSON.stringify({ framework: 'node:http on a port', message: 'hello from a port app behind lambda-dispatch' }));
  res.statusCode = 404;
  res.end('not found');
}).listen(port, '127.0.0.1');
