/// <reference path="./.sst/platform/config.d.ts" />

// `npx sst deploy --stage NAME` deploys lambda-dispatch with the demo function; `npx sst dev` runs the
// router locally and the function live. The pieces are in infra/sst/lambda-dispatch.ts.

export default $config({
  app(input) {
    return {
      name: 'lambda-dispatch',
      home: 'aws',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      // Pinned so that a deploy is reproducible and the offline check (infra/sst.test.ts) tests
      // the same provider a deploy gets.
      providers: { aws: '7.20.0' },
    };
  },
  async run() {
    const { LambdaDispatch } = await import('./infra/sst/lambda-dispatch.ts');
    const production = $app.stage === 'production';
    const dispatch = new LambdaDispatch('LambdaDispatch', {
      function: { handler: 'demo/function.handler', timeout: 60, memory: 512 },
      router: {
        // Spot where an interruption costs nothing but a restart.
        capacity: production ? 'fargate' : 'spot',
        // min: the component's default, two tasks in production (one per availability zone) and
        // one elsewhere.
        scaling: { max: 10, cpuUtilization: 50 },
      },
    });
    return { url: dispatch.url };
  },
});
