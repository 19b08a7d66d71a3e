// LambdaDispatch: the whole deployment of lambda-dispatch as one SST component — a VPC, your function
// in its private subnets, and the router on Fargate behind a load balancer, allowed to invoke that
// function only. Copy this file into your own SST app to put lambda-dispatch in front of your handler.
//
// It uses SST's globals (`sst`, `aws`, `$app`, `$dev`, ...) like any SST component does, so it is
// imported dynamically from inside `run()` of sst.config.ts (never at the top of the file, which
// SST evaluates once without them). The router's metrics, dashboard and alarms: observability.ts.

import { checkObservability, createObservability, emfEnvironment, type ObservabilityArgs } from './observability.ts';

/** Ports the router listens on inside its task (LAMBDA_DISPATCH_IncomingRequestHTTPPort / _ControlChannelInsecureHTTP2Port). */
export const ROUTER_HTTP_PORT = 5001;
export const ROUTER_CONTROL_PORT = 5003;
export const HEALTH_PATH = '/_lambda_dispatch/health';

/** The router's own default for LAMBDA_DISPATCH_ShutdownGraceMs (core/config.ts), in seconds. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 20;
/** ECS refuses a longer stopTimeout for a Fargate container. */
export const FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120;
// A request that starts just as the target is deregistered still gets the whole grace from the
// load balancer, plus the time its last bytes take through it.
const DEREGISTRATION_MARGIN_SECONDS = 5;
// After the grace the router still closes connections, stops its dispatcher thread and exits;
// SIGKILL must not land in the middle of that.
const STOP_TIMEOUT_MARGIN_SECONDS = 10;
export const MAX_SHUTDOWN_GRACE_SECONDS = FARGATE_MAX_STOP_TIMEOUT_SECONDS - STOP_TIMEOUT_MARGIN_SECONDS;

/** What one drain grace sets: the router's setting, the target group's delay, the container's stop timeout. */
export function drainTimings(graceSeconds: number) {
  return {
    shutdownGraceMs: graceSeconds * 1000,
    deregistrationDelay: graceSeconds + DEREGISTRATION_MARGIN_SECONDS,
    stopTimeout: graceSeconds + STOP_TIMEOUT_MARGIN_SECONDS,
  };
}

type Vpc = InstanceType<typeof sst.aws.Vpc>;
type Fn = InstanceType<typeof sst.aws.Function>;
type Service = InstanceType<typeof sst.aws.Service>;
type Cluster = InstanceType<typeof sst.aws.Cluster>;
type FunctionArgs = ConstructorParameters<typeof sst.aws.Function>[1];
type ServiceArgs = ConstructorParameters<typeof sst.aws.Service>[1];

export interface LambdaDispatchArgs extends ObservabilityArgs {
  /**
   * The function the router invokes. `handler` is `path/to/module.export` from the app root: the
   * module's export must be `createHandler(app)` (extension/handler.ts). SST bundles it, or give
   * `bundle` (a directory you built, e.g. `dist/lambda` from `npm run build`, with `handler`
   * relative to it, e.g. `index.handler`).
   */
  function: {
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
  };
  router?: {
    /**
     * The router image. Default: built from infra/router.Dockerfile with the app root as context.
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
    /** What `sst dev` runs instead of the service. Default the router from sources with tsx. */
    devCommand?: string;
  };
  /** An existing VPC. Default: a new one with a managed NAT gateway when `$app.stage` is `production`, NAT instances otherwise. */
  vpc?: Vpc;
}

const DEFAULT_DEV_COMMAND = 'node --import tsx infra/router/dev.ts';

export class LambdaDispatch extends $util.ComponentResource {
  readonly vpc: Vpc;
  readonly function: Fn;
  readonly cluster: Cluster;
  readonly router: Service;
  /** The security group of the function's network interfaces: the only source allowed on the control port. */
  readonly functionSecurityGroup: InstanceType<typeof aws.ec2.SecurityGroup>;
  readonly routerSecurityGroup: InstanceType<typeof aws.ec2.SecurityGroup>;
  /** The public URL (in `sst dev`, the local router's). */
  readonly url: $util.Output<string>;
  /** The CloudWatch dashboard and alarms of observability.ts (none in `sst dev`, or when turned off). */
  readonly dashboard: InstanceType<typeof aws.cloudwatch.Dashboard> | undefined;
  readonly alarms: InstanceType<typeof aws.cloudwatch.MetricAlarm>[];

  constructor(name: string, args: LambdaDispatchArgs, opts: $util.ComponentResourceOptions = {}) {
    super('lambda-dispatch:aws:LambdaDispatch', name, {}, opts);
    const parent = { parent: this };
    const settings = checkArgs(name, args, $app.stage === 'production');

    this.vpc =
      args.vpc ??
      new sst.aws.Vpc(`${name}Vpc`, { nat: $app.stage === 'production' ? 'managed' : 'ec2' }, parent);
    const vpc = this.vpc;

    // Dedicated groups instead of the VPC's default one, which admits the whole VPC CIDR: the
    // control port must accept the function's environments and nothing else.
    this.functionSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}FunctionSecurityGroup`,
      {
        vpcId: vpc.id,
        description: `${name} function network interfaces`,
        egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
      },
      parent,
    );
    this.routerSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}RouterSecurityGroup`,
      {
        vpcId: vpc.id,
        description: `${name} router tasks`,
        egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
      },
      parent,
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}ControlPortFromFunction`,
      {
        securityGroupId: this.routerSecurityGroup.id,
        referencedSecurityGroupId: this.functionSecurityGroup.id,
        ipProtocol: 'tcp',
        fromPort: ROUTER_CONTROL_PORT,
        toPort: ROUTER_CONTROL_PORT,
        description: 'lambda-dispatch control channel: WebSocket callbacks from the function',
      },
      parent,
    );

    this.function = new sst.aws.Function(
      `${name}Function`,
      {
        handler: args.function.handler,
        ...(args.function.bundle ? { bundle: args.function.bundle } : {}),
        runtime: settings.runtime,
        architecture: settings.fnArchitecture,
        timeout: `${settings.timeout} seconds`,
        memory: `${settings.memory} MB`,
        vpc: { privateSubnets: vpc.privateSubnets, securityGroups: [this.functionSecurityGroup.id] },
        // Invoked by the router only: no function URL.
        url: false,
        ...(args.function.environment ? { environment: args.function.environment } : {}),
        ...(args.function.link ? { link: args.function.link } : {}),
        ...(args.function.copyFiles ? { copyFiles: args.function.copyFiles } : {}),
        ...(args.function.transform ? { transform: args.function.transform } : {}),
      },
      parent,
    );

    this.cluster = new sst.aws.Cluster(
      `${name}Cluster`,
      {
        // The object form (not the Vpc component) so that tasks get the router's own security
        // group. Tasks sit in the private subnets and reach ECR and the Lambda API through NAT;
        // the load balancer sits in the public ones.
        vpc: {
          id: vpc.id,
          securityGroups: [this.routerSecurityGroup.id],
          containerSubnets: vpc.privateSubnets,
          loadBalancerSubnets: vpc.publicSubnets,
          cloudmapNamespaceId: vpc.nodes.cloudmapNamespace.id,
          cloudmapNamespaceName: vpc.nodes.cloudmapNamespace.name,
        },
      },
      parent,
    );

    const router = settings.router;
    const region = aws.getRegionOutput({}, parent).region;
    const drain = drainTimings(router.shutdownGraceSeconds);
    // The load balancer's nodes sit in the public subnets and reach the router from addresses
    // there; the router believes x-forwarded-* only from those. Not the VPC's CIDR: that would
    // also vouch for the function, the NAT instances and anything else in the private subnets.
    // Not in `sst dev`: no load balancer, and a laptop's own network may well be 10.0.0.0/8.
    const trustProxy = $dev
      ? undefined
      : vpc.nodes.publicSubnets.apply((subnets) => $util.all(subnets.map((s) => s.cidrBlock))).apply((cidrs) => cidrs.join(','));
    this.router = new sst.aws.Service(
      `${name}Router`,
      {
        cluster: this.cluster,
        image: args.router?.image ?? { context: '.', dockerfile: 'infra/router.Dockerfile' },
        cpu: router.cpu,
        memory: router.memory,
        architecture: router.architecture,
        ...(router.capacity === 'spot' ? { capacity: 'spot' as const } : {}),
        environment: {
          LAMBDA_DISPATCH_FunctionName: this.function.name,
          LAMBDA_DISPATCH_FunctionTimeout: String(settings.timeout),
          LAMBDA_DISPATCH_IncomingRequestHTTPPort: String(ROUTER_HTTP_PORT),
          LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port: String(ROUTER_CONTROL_PORT),
          LAMBDA_DISPATCH_ShutdownGraceMs: String(drain.shutdownGraceMs),
          ...(trustProxy ? { LAMBDA_DISPATCH_TrustProxy: trustProxy } : {}),
          AWS_REGION: region,
          // The router's metrics; not in `sst dev`, where its stdout reaches no log group.
          ...($dev ? {} : emfEnvironment(name, settings.observability)),
          ...args.router?.settings,
        },
        permissions: [{ actions: ['lambda:InvokeFunction'], resources: [this.function.arn] }],
        loadBalancer: {
          ...(args.router?.domain ? { domain: args.router.domain } : {}),
          rules: args.router?.domain
            ? [
                { listen: '80/http', redirect: '443/https' },
                { listen: '443/https', forward: `${ROUTER_HTTP_PORT}/http` },
              ]
            : [{ listen: '80/http', forward: `${ROUTER_HTTP_PORT}/http` }],
          health: {
            [`${ROUTER_HTTP_PORT}/http`]: {
              path: HEALTH_PATH,
              interval: '10 seconds',
              timeout: '5 seconds',
              healthyThreshold: 2,
              unhealthyThreshold: 3,
              successCodes: '200',
            },
          },
        },
        // The image has no curl; node is there. ECS replaces a task whose check fails.
        health: {
          command: [
            'CMD',
            'node',
            '-e',
            `fetch('http://127.0.0.1:${ROUTER_HTTP_PORT}${HEALTH_PATH}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
          ],
          startPeriod: '10 seconds',
          interval: '30 seconds',
          timeout: '5 seconds',
          retries: 3,
        },
        scaling: {
          min: router.scaling.min,
          max: router.scaling.max,
          cpuUtilization: router.scaling.cpuUtilization,
          memoryUtilization: false,
        },
        dev: {
          command: args.router?.devCommand ?? DEFAULT_DEV_COMMAND,
          directory: '.',
          url: `http://127.0.0.1:${ROUTER_HTTP_PORT}`,
        },
        transform: {
          // ECS takes a task out of the target group first and sends SIGTERM only once the target
          // has drained (or this delay ran out); the 300 s default would only slow every deploy.
          target: (t: aws.lb.TargetGroupArgs) => {
            t.deregistrationDelay = drain.deregistrationDelay;
            return undefined;
          },
          // SST's Service has no stop timeout of its own; ECS's default (30 s) would SIGKILL a
          // router whose grace is longer, and the drain would lose whatever it still had.
          taskDefinition: (t: aws.ecs.TaskDefinitionArgs) => {
            t.containerDefinitions = $output(t.containerDefinitions).apply((json) =>
              JSON.stringify((JSON.parse(json) as Record<string, unknown>[]).map((c) => ({ ...c, stopTimeout: drain.stopTimeout }))),
            );
            return undefined;
          },
          service: (s: aws.ecs.ServiceArgs) => {
            // A rolling deploy starts the new tasks and waits for them to pass the load balancer's
            // health check before it stops an old one: capacity never drops below the desired count.
            s.deploymentMinimumHealthyPercent = 100;
            s.deploymentMaximumPercent = 200;
            // Fargate spreads tasks over the subnets' zones when it places them; this moves them
            // back after a zone's outage or a scale-in left them lopsided.
            s.availabilityZoneRebalancing = 'ENABLED';
            return undefined;
          },
        },
      },
      parent,
    );

    if (!$dev) {
      // The HTTP port from the load balancer only (its security group is made by the Service).
      new aws.vpc.SecurityGroupIngressRule(
        `${name}HttpPortFromLoadBalancer`,
        {
          securityGroupId: this.routerSecurityGroup.id,
          referencedSecurityGroupId: this.router.nodes.loadBalancer.securityGroups.apply((ids: string[]) => ids[0]!),
          ipProtocol: 'tcp',
          fromPort: ROUTER_HTTP_PORT,
          toPort: ROUTER_HTTP_PORT,
          description: 'lambda-dispatch client traffic and health checks from the load balancer',
        },
        parent,
      );
    }

    // The metrics' dashboard and alarms (none in `sst dev`, where no ECS service runs).
    const observed = createObservability(name, settings.observability, { region, cluster: this.cluster, router: this.router, fn: this.function }, parent);
    this.dashboard = observed.dashboard;
    this.alarms = observed.alarms;

    this.url = $output(this.router.url);
    this.registerOutputs({ url: this.url });
  }
}

/** Validates what the types cannot say; every problem is reported at once, each naming its argument. */
function checkArgs(name: string, args: LambdaDispatchArgs, production: boolean) {
  const problems: string[] = [];
  const int = (label: string, v: number | undefined, dflt: number, min: number, max: number, why = '') => {
    const n = v ?? dflt;
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`${label} must be an integer from ${min} to ${max}${why}, got ${n}`);
    return n;
  };
  if (!args.function.bundle && !/^[^.]+\.[A-Za-z_$][\w$]*$/.test(args.function.handler)) {
    problems.push(`function.handler must look like "path/to/module.export", got "${args.function.handler}"`);
  }
  const timeout = int('function.timeout', args.function.timeout, 60, 1, 900);
  const memory = int('function.memory', args.function.memory, 512, 128, 10_240);
  const scaling = args.router?.scaling ?? {};
  const defaultMin = production ? 2 : 1;
  const min = int('router.scaling.min', scaling.min, defaultMin, 0, 1000);
  const max = int('router.scaling.max', scaling.max, 10, 1, 1000);
  if (min > max) {
    const note = scaling.min === undefined ? (production ? ', the default in the production stage' : ', the default') : '';
    problems.push(`router.scaling.min (${min}${note}) exceeds router.scaling.max (${max})`);
  }
  const cpuUtilization = int('router.scaling.cpuUtilization', scaling.cpuUtilization, 50, 1, 100);
  const shutdownGraceSeconds = int(
    'router.shutdownGraceSeconds',
    args.router?.shutdownGraceSeconds,
    DEFAULT_SHUTDOWN_GRACE_SECONDS,
    0,
    MAX_SHUTDOWN_GRACE_SECONDS,
    ` (ECS's stop timeout follows it at +${STOP_TIMEOUT_MARGIN_SECONDS} s and Fargate allows at most ${FARGATE_MAX_STOP_TIMEOUT_SECONDS} s)`,
  );
  const extra = args.router?.settings ?? {};
  if ('LAMBDA_DISPATCH_ShutdownGraceMs' in extra) {
    problems.push('router.settings.LAMBDA_DISPATCH_ShutdownGraceMs cannot be set: use router.shutdownGraceSeconds, which the deregistration delay and the stop timeout follow');
  }
  // The router's spellings of true (core/settings/env.ts). Only a literal can be checked here; a
  // value computed at deploy time is the caller's to keep.
  const tls = extra.LAMBDA_DISPATCH_ControlTls;
  if (typeof tls === 'string' && !['true', '1', 'yes'].includes(tls.trim().toLowerCase())) {
    problems.push(`router.settings.LAMBDA_DISPATCH_ControlTls cannot turn off TLS on the control channel (the function's callbacks cross the VPC), got "${tls}"`);
  }
  const observability = checkObservability(args, extra, problems);
  if (problems.length > 0) throw new Error(`LambdaDispatch "${name}": ${problems.join('; ')}`);
  return {
    runtime: args.function.runtime ?? 'nodejs24.x',
    fnArchitecture: args.function.architecture ?? 'arm64',
    timeout,
    memory,
    router: {
      cpu: args.router?.cpu ?? '0.5 vCPU',
      memory: args.router?.memory ?? '1 GB',
      architecture: args.router?.architecture ?? (args.router?.capacity === 'spot' ? 'x86_64' : 'arm64'),
      capacity: args.router?.capacity ?? 'fargate',
      scaling: { min, max, cpuUtilization },
      shutdownGraceSeconds,
    },
    observability,
  };
}
