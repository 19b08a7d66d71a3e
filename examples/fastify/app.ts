// An ordinary Fastify app: nothing in it knows about Lambda or lambda-dispatch.
import Fastify from 'fastify';

export const app = Fastify({ logger: false });

app.get('/', async () => ({ framework: 'fastify', message: 'hello from Fastify behind lambda-dispatch' }));

app.get<{ Params: { id: string } }>('/users/:id', async (req) => ({ id: req.params.id }));

app.post('/echo', async (req) => ({ received: req.body }));
