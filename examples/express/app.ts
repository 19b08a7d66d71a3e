// An ordinary Express app: nothing in it knows about Lambda or lambda-dispatch.
import express from 'express';

export const app = express();
app.use(express.json());

app.get('/', (_req, res) => {
  res.json({ framework: 'express', message: 'hello from Express behind lambda-dispatch' });
});

app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});

app.post('/echo', (req, res) => {
  res.json({ received: req.body as unknown });
});
