// LambdaDispatch: the whole deployment of lambda-dispatch as one SST component — a VPC, your function
// in its private subnets, and the router on Fargate behind a load balancer, allowed to invoke that
// function only. In your own SST app: `const { LambdaDispatch } = await import('lambda-dispatch/sst')`.
//
// It uses SST's globals (`sst`, `aws`, `$app`, `$dev`, ...) like any SST component does, so it is
// imported dynamically from inside `run()` of sst.config.ts (never at the top of the file, which
// SST evaluates once without them). The router's metrics, dashboard and alarms: observability.ts.

import type { Cluster, Fn, FunctionOptions, LambdaDispatchArgs, Service, Vpc } from './args.ts';
import { ComponentResource } from './component-base.ts';
import { createObservability, emfEnvironment } from './observability.ts';
import { createWorkers, routerWorkerEnvironment, workerSecrets } from './workers.ts';
import { routerImageDefaults } from './router-image.ts';
import { checkArgs, MAIN_FUNCTION, drainTimings, HEALTH_PATH, ROUTER_CONTROL_PORT, ROUTER_HTTP_PORT } from './settings.ts';

export type { FunctionOptions, LambdaDispatchArgs, WorkersOptions } from './args.ts';
export { drainTimings, HEALTH_PATH, ROUTER_CONTROL_PORT, ROUTER_HTTP_PORT } from './settings.ts';

export class LambdaDispatch extends ComponentResource {
  readonly vpc: Vpc;
  readonly function: Fn;
  /** Every function behind the router by its routes' name: `main` (the one above) and those of `functions`. */
  readonly functions: Record<string, Fn>;
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
  /** The container workers' service (workers.ts), when `workers` is given (never in `sst dev`). */
  readonly workers: Service | undefined;

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

    const createFunction = (id: string, f: FunctionOptions, fs: { runtime: string; architecture: string; timeout: number; memory: number }) =>
      new sst.aws.Function(
        id,
        {
          handler: f.handler,
          ...(f.bundle ? { bundle: f.bundle } : {}),
          runtime: fs.runtime as FunctionOptions['runtime'] & string,
          architecture: fs.architecture as FunctionOptions['architecture'] & string,
          timeout: `${fs.timeout} seconds`,
          memory: `${fs.memory} MB`,
          vpc: { privateSubnets: vpc.privateSubnets, securityGroups: [this.functionSecurityGroup.id] },
          // Invoked by the router only: no function URL.
          url: false,
          ...(f.environment ? { environment: f.environment } : {}),
          ...(f.link ? { link: f.link } : {}),
          ...(f.copyFiles ? { copyFiles: f.copyFiles } : {}),
          ...(f.transform ? { transform: f.transform } : {}),
        },
        parent,
      );
    this.function = createFunction(`${name}Function`, args.function, {
      runtime: settings.runtime,
      architecture: settings.fnArchitecture,
      timeout: settings.timeout,
      memory: settings.memory,
    });
    this.functions = { [MAIN_FUNCTION]: this.function };
    for (const f of settings.functions) this.functions[f.name] = createFunction(`${name}Function${pascal(f.name)}`, f.function, f);
    // Several functions: the router gets the routes with each one's deployed name.
    const routes = settings.routes
      ? $jsonStringify({ ...settings.routes, functions: settings.routes.functions.map((f) => ({ ...f, functionName: this.functions[f.name]!.name })) })
      : undefined;

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

    // Container workers share a secret and the routers' certificate through SST's secret store.
    const secrets = args.workers && !$dev ? workerSecrets(name) : undefined;
    const router = settings.router;
    const defaults = routerImageDefaults();
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
        image: args.router?.image ?? defaults.image,
        cpu: router.cpu,
        memory: router.memory,
        architecture: router.architecture,
        ...(router.capacity === 'spot' ? { capacity: 'spot' as const } : {}),
        environment: {
          LAMBDA_DISPATCH_FunctionName: this.function.name,
          ...(routes ? { LAMBDA_DISPATCH_Routes: routes } : {}),
          ...(secrets ? routerWorkerEnvironment(secrets) : {}),
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
        // Exactly the functions it routes to.
        permissions: [{ actions: ['lambda:InvokeFunction'], resources: Object.values(this.functions).map((f) => f.arn) }],
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
          command: args.router?.devCommand ?? defaults.devCommand,
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

    this.workers =
      args.workers && secrets
        ? createWorkers(name, workersFor(args.workers, args.functions), { cluster: this.cluster, router: this.router, routerSecurityGroup: this.routerSecurityGroup, vpcId: vpc.id, secrets }, parent).service
        : undefined;

    this.url = $output(this.router.url);
    this.registerOutputs({ url: this.url });
  }
}

/** `images-v2` → `ImagesV2`: resource names are PascalCase. */
function pascal(name: string): string {
  return name.replace(/(^|[-_])(\w)/g, (_, __, c: string) => c.toUpperCase());
}

/**
 * A router without `functions` knows its one function by its Lambda name, not as `main`: its
 * workers name none (they serve the first, the only one).
 */
function workersFor(w: NonNullable<LambdaDispatchArgs['workers']>, functions: LambdaDispatchArgs['functions']): NonNullable<LambdaDispatchArgs['workers']> {
  if ((functions?.length ?? 0) > 0 || w.function === undefined) return w;
  const { function: _main, ...rest } = w;
  return rest;
}
