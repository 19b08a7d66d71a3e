// The conformance apps by name (the argument of serve.ts and of the Lambda handler fixtures).

import type { ConformanceApp } from './app.ts';

export async function loadApp(name: string): Promise<ConformanceApp> {
  switch (name) {
    case 'express4':
      return (await import('./express4.ts')).app;
    case 'express5':
      return (await import('./express5.ts')).app;
    case 'koa':
      return (await import('./koa.ts')).app;
    case 'fastify':
      return (await import('./fastify.ts')).app;
    case 'hono':
      return (await import('./hono.ts')).app;
  }
  throw new Error(`no conformance app named "${name}"`);
}
