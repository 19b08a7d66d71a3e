/// <reference path="./.sst/platform/config.d.ts" />

// `npx sst deploy --stage NAME`: the function and the lambda-dispatch router in front of it.
export default $config({
  app(input) {
    return {
      name: 'ld-example-fastify',
      home: 'aws',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      providers: { aws: '7.20.0' },
    };
  },
  async run() {
    const { LambdaDispatch } = await import('lambda-dispatch/sst');
    const api = new LambdaDispatch('Api', { function: { handler: 'handler.handler' } });
    return { url: api.url };
  },
});
