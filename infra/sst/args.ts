// The arguments of the LambdaDispatch component (lambda-dispatch.ts), in SST's own types.

import type { ObservabilityArgs } from './observability.ts';

export type Vpc = InstanceType<typeof sst.aws.Vpc>;
export type Fn = InstanceType<typeof sst.aws.Function>;
export type Service = InstanceType<typeof sst.aws.Service>;
export type Cluster = InstanceType<typeof sst.aws.Cluster>;
export type FunctionArgs = ConstructorParameters<typeof sst.aws.Function>[1];
export type ServiceArgs = ConstructorParameters<typeof sst.aws.Service>[1];

export interface LambdaDispatchArgs extends ObservabilityArgs {
  /**
   * The function the router invokes. `handler` is `path/to/module.export` from the app root: the
   * module's export must be `createHandler(app)` (extension/handler.ts). SST bundles it, or give
   * `bundle` (a directory you built, e.g. `dist/lambda` from `npm run build`, with `handler`
   * relative to it, e.g. `index.handler`).
   */
  function: FunctionOptions;
  /**
   * More functions behind the same router, each with its own pool, scaler and pool settings
   * (LAMBDA_DISPATCH_Routes; README: Several functions behind one router). `function` above is
   * the one named `main`. With `functions`, `routes` or `header` say which requests reach which.
   */
  functions?: { name: string; function: FunctionOptions; settings?: Record<string, string | number | boolean> }[];
  /** In order, the first match wins; a request that matches none gets 404 from the router. `function` is `main` or a name in `functions`. */
  routes?: { host?: string; pathPrefix?: string; function: string }[];
  /** A request header whose allow-listed values select a function; any other value reaches none. */
  header?: { name: string; allow: Record<string, string> };
  router?: {
    /**
     * The router image. Default: built from the package's router bundle (dist/router/ and its
     * Dockerfile; in this repository, infra/router.Dockerfile with the app root as context).
     * Give an image URI to run a router image you publish yourself.
     */
    image?: string;
    /** Default `0.5 vCPU`. */
    cpu?: ServiceArgs['cpu'];
    /** Default `1 GB`. */
    memory?: ServiceArgs['memory'];
    /**
     * Default `arm64` (Graviton, 20% cheaper); `x86_64` with `capacity: "spot"`, because ECS's
     * documentation does not agree on Fargate Spot for ARM64 and x86_64 Spot works everywhere.
     */
    architecture?: 'arm64' | 'x86_64';
    /** `spot` runs on Fargate Spot (about 70% cheaper, may be reclaimed with a two-minute warning). Default regular Fargate. */
    capacity?: 'spot' | 'fargate';
    /**
     * CPU target tracking. Defaults: min 2 in the `production` stage (one task per availability
     * zone, so that neither a deploy nor a zone takes the router down), 1 elsewhere; max 10;
     * target 50% CPU.
     */
    scaling?: { min?: number; max?: number; cpuUtilization?: number };
    /**
     * Seconds the router may take after SIGTERM to finish requests in flight
     * (LAMBDA_DISPATCH_ShutdownGraceMs). The load balancer's deregistration delay (grace + 5 s) and
     * ECS's stop timeout (grace + 10 s) follow it, so nothing cuts a drain short. Integer, 0–110
     * (Fargate's stop timeout is at most 120 s). Default 20.
     */
    shutdownGraceSeconds?: number;
    /**
     * Extra LAMBDA_DISPATCH_* settings (README: Configuration), e.g. `{ LAMBDA_DISPATCH_MaxConcurrentCount: "20" }`.
     * Not `LAMBDA_DISPATCH_ShutdownGraceMs` (use `shutdownGraceSeconds`), and not a
     * `LAMBDA_DISPATCH_ControlTls` that turns TLS off.
     */
    settings?: Record<string, $util.Input<string>>;
    /** A custom domain for the load balancer (HTTPS, certificate by SST); default the load balancer's own HTTP URL. */
    domain?: string;
    /** What `sst dev` runs instead of the service. Default `npx lambda-dispatch router` (here: the sources with tsx). */
    devCommand?: string;
  };
  /**
   * Container workers (not in `sst dev`): an ECS service running the same app as permanent
   * capacity that registers with the routers, scaled on its own CPU; Lambda absorbs what it cannot
   * take. Its secret and the routers' certificate come from SST's secret store (workers.ts).
   */
  workers?: WorkersOptions;
  /** An existing VPC. Default: a new one with a managed NAT gateway when `$app.stage` is `production`, NAT instances otherwise. */
  vpc?: Vpc;
}

/** One function the router invokes (see LambdaDispatchArgs.function). */
export interface FunctionOptions {
  handler: string;
  bundle?: string;
  /** Default `nodejs24.x`. */
  runtime?: 'nodejs22.x' | 'nodejs24.x';
  /** Seconds, 1–900. The router's invoke timeout follows it. Default 60. */
  timeout?: number;
  /** MB, 128–10240. Default 512. */
  memory?: number;
  /** Default `arm64` (20% cheaper per GB-second than x86_64). */
  architecture?: 'arm64' | 'x86_64';
  environment?: Record<string, $util.Input<string>>;
  /** Resources to link to the function (SST linking), e.g. a bucket your app reads. */
  link?: FunctionArgs['link'];
  /** Files shipped next to the handler, e.g. the binary of a `{ port }` app in another language. */
  copyFiles?: FunctionArgs['copyFiles'];
  /** Anything else of sst.aws.Function, applied last. */
  transform?: FunctionArgs['transform'];
}

/** The container workers' service (see LambdaDispatchArgs.workers). */
export interface WorkersOptions {
  /**
   * Your app with this package, whose bin runs it as a worker (`lambda-dispatch worker --module
   * app.mjs`, or `--port P --command "…"`): an image URI, or built by SST from `{ context, dockerfile }`.
   */
  image: ServiceArgs['image'];
  /** The container's command; default the image's own. */
  command?: string[];
  /** Default `0.5 vCPU`. */
  cpu?: ServiceArgs['cpu'];
  /** Default `1 GB`. */
  memory?: ServiceArgs['memory'];
  /** Default `arm64`. */
  architecture?: 'arm64' | 'x86_64';
  /** CPU target tracking of the workers alone. Defaults: min 1, max 4, target 60% CPU. */
  scaling?: { min?: number; max?: number; cpuUtilization?: number };
  /** Requests one worker serves at once (LAMBDA_DISPATCH_MaxConcurrentCount of the worker). */
  maxConcurrent?: number;
  /**
   * Whose app the workers run: `main` or a name in `functions` (LAMBDA_DISPATCH_WorkerFunction of
   * the worker). Default `main`.
   */
  function?: string;
  environment?: Record<string, $util.Input<string>>;
  link?: ServiceArgs['link'];
}
