// An ordinary Hono app (a fetch handler): nothing in it knows about Lambda or lambda-dispatch.
import { Hono } from 'hono';

export const app = new Hono();

app.get('/', (c) => c.json({ framework: 'hono', message: 'hello from Hono behind lambda-dispatch' }));

app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));

app.post('/echo', async (c) => c.json({ received: (await c.req.json()) as unknown }));
