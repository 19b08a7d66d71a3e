// The offline check of the deployment: the pinned SST installs its platform (`sst install`, no
// Pulumi download), sst.config.ts and infra/sst type-check against SST's own declarations, and
// the config is synthesized — SST's real components running against Pulumi's runtime mocks for
// AWS (infra/sst-check) — for a production stage, another stage and `sst dev`, and the resource
// graph is asserted. Everything it writes is under .sst/ (gitignored) and removed at the end.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EMF_METRICS } from '../ingress/telemetry/emf.ts';
import { Graph } from './sst-check/graph.ts';
import { sstInstallOnce } from './sst-check/sst-cli.ts';
import { synthesize, type SynthResult } from './sst-check/synth.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHECK = path.join(ROOT, '.sst', 'check');
const HEALTH = '/_lambda_dispatch/health';
const timings: string[] = [];

/**
 * What SST's components and CLI write outside .sst/ when they run: a .dockerignore next to the
 * image's context or Dockerfile (extended with `.sst` when it lacks that line) and sst-env.d.ts
 * files. (Other people's files in a shared tree are left out of the comparison on purpose.)
 */
function treeSnapshot() {
  const interesting = (name: string) => /sst|docker/i.test(name) && name !== '.sst';
  return {
    root: readdirSync(ROOT).filter(interesting).sort(),
    infra: readdirSync(path.join(ROOT, 'infra')).filter(interesting).sort(),
    dockerignore: readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'),
    config: readFileSync(path.join(ROOT, 'sst.config.ts'), 'utf8'),
  };
}
const before_ = treeSnapshot();

const synths = new Map<string, Promise<SynthResult & { ms: number }>>();
/** One synthesis per stage and mode, shared by the tests that read it. */
function synth(stage: string, dev: boolean, configPath?: string): Promise<SynthResult & { ms: number }> {
  const key = `${stage}/${dev}/${configPath ?? ''}`;
  let p = synths.get(key);
  if (!p) {
    p = synthesize({ root: ROOT, stage, dev, ...(configPath ? { configPath } : {}) }).then((r) => {
      timings.push(`synthesis ${stage}${dev ? ' (sst dev)' : ''}${configPath ? ` ${path.basename(configPath)}` : ''}: ${r.ms} ms, ${r.resources.length} resources`);
      return r;
    });
    synths.set(key, p);
  }
  return p;
}

async function tsc(project: string): Promise<{ code: number; output: string; ms: number }> {
  const started = Date.now();
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: ROOT });
    return { code: 0, output: stdout + stderr, ms: Date.now() - started };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: (e.stdout ?? '') + (e.stderr ?? ''), ms: Date.now() - started };
  }
}

/** A statement list from an IAM role's inline policy. */
function inlineStatements(role: Record<string, unknown>): { Action: string[]; Resource: string[]; Effect: string }[] {
  const policies = (role.inlinePolicies as { policy: string }[] | undefined) ?? [];
  return policies.flatMap((p) => (JSON.parse(p.policy) as { Statement: { Action: string[]; Resource: string[]; Effect: string }[] }).Statement);
}

function containerDefinitions(g: Graph) {
  const task = g.one('aws:ecs/taskDefinition:TaskDefinition', /RouterTask$/);
  return JSON.parse(String(task.inputs.containerDefinitions)) as {
    name: string;
    image: string;
    environment: { name: string; value: string }[];
    healthCheck?: { command: string[] };
    stopTimeout?: number;
  }[];
}

/**
 * Synthesizes a config with container workers, with the secrets `sst secret set` would have stored
 * (SST hands them to the program as SST_SECRET_<name>): the worker secret, the router's certificate and key.
 */
async function synthWithWorkerSecrets(configPath: string): Promise<{ r: SynthResult; tls: { cert: string; key: string; certSha256: string }; secret: string }> {
  const { generateControlTls } = await import('../core/dispatcher/control-tls.ts');
  const tls = await generateControlTls();
  const secret = 'worker-secret-from-the-store-0123456789';
  process.env.SST_SECRET_DispatchWorkerSecret = secret;
  process.env.SST_SECRET_DispatchRouterTlsCert = tls.cert;
  process.env.SST_SECRET_DispatchRouterTlsKey = tls.key;
  try {
    return { r: await synth('staging', false, configPath), tls, secret };
  } finally {
    delete process.env.SST_SECRET_DispatchWorkerSecret;
    delete process.env.SST_SECRET_DispatchRouterTlsCert;
    delete process.env.SST_SECRET_DispatchRouterTlsKey;
  }
}

function routerEnv(g: Graph): Record<string, string> {
  return Object.fromEntries(containerDefinitions(g)[0]!.environment.map((e) => [e.name, e.value]));
}

/** The load balancer's subnets' CIDRs, in the order the VPC made them. */
function publicCidrs(g: Graph): string {
  return g
    .all('aws:ec2/subnet:Subnet', /PublicSubnet\d+$/)
    .map((s) => String(s.inputs.cidrBlock))
    .join(',');
}

/**
 * What every deployed stage must have so that a deploy, a scale-in or a Spot reclaim loses no
 * request: the target group stops sending before SIGTERM and waits out the router's drain, ECS's
 * SIGKILL comes after it, and a rolling deploy adds tasks before it removes any.
 */
function assertDrain(g: Graph, graceSeconds: number) {
  const env = routerEnv(g);
  assert.equal(env.LAMBDA_DISPATCH_ShutdownGraceMs, String(graceSeconds * 1000));
  const target = g.one('aws:lb/targetGroup:TargetGroup');
  assert.equal(target.inputs.deregistrationDelay, graceSeconds + 5, 'the load balancer lets requests run the whole grace');
  const [container] = containerDefinitions(g);
  assert.equal(container!.stopTimeout, graceSeconds + 10, 'SIGKILL comes after the drain');
  assert.ok(container!.stopTimeout! <= 120, "Fargate's most");
  const service = g.one('aws:ecs/service:Service');
  assert.equal(service.inputs.deploymentMinimumHealthyPercent, 100);
  assert.equal(service.inputs.deploymentMaximumPercent, 200);
  assert.equal(service.inputs.availabilityZoneRebalancing, 'ENABLED');
  // Fargate places a service's tasks across the zones of the subnets it is given.
  const subnets = g.all('aws:ec2/subnet:Subnet').filter((s) => (service.inputs.networkConfiguration as { subnets: string[] }).subnets.includes(String(s.id)));
  assert.equal(new Set(subnets.map((s) => s.inputs.availabilityZone)).size, 2, 'the tasks may use both zones');
}

/** The component leaves TLS on the control channel to the router's default (on) and never turns it off. */
function assertControlTlsOn(env: Record<string, string>) {
  const v = env.LAMBDA_DISPATCH_ControlTls;
  assert.ok(v === undefined || ['true', '1', 'yes'].includes(v.toLowerCase()), `LAMBDA_DISPATCH_ControlTls=${v}`);
}

/** The router's metrics (EMF, infra/sst/observability.ts): the dashboard and the alarms must name each. */
/** What the router emits (ingress/telemetry/emf.ts): the dashboard and alarms must name exactly these. */
const ROUTER_METRICS = Object.keys(EMF_METRICS);
const ALARM = 'aws:cloudwatch/metricAlarm:MetricAlarm';
const DASHBOARD = 'aws:cloudwatch/dashboard:Dashboard';

interface ChartedMetric {
  widget: string;
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  options: { stat?: string; id?: string };
}

/** The dashboard's widgets, its metrics (namespace, name, dimensions, options) and its metric-math expressions. */
function dashboard(g: Graph) {
  const d = g.one(DASHBOARD);
  const body = JSON.parse(String(d.inputs.dashboardBody)) as {
    widgets: { type: string; x: number; y: number; width: number; height: number; properties: { title: string; region: string; metrics: unknown[][] } }[];
  };
  const metrics: ChartedMetric[] = [];
  const expressions: { widget: string; expression: string }[] = [];
  for (const w of body.widgets) {
    for (const row of w.properties.metrics) {
      const last = row[row.length - 1];
      const options = (typeof last === 'object' ? last : {}) as ChartedMetric['options'] & { expression?: string };
      if (options.expression) {
        expressions.push({ widget: w.properties.title, expression: options.expression });
        continue;
      }
      const [namespace, name, ...rest] = row.filter((v) => typeof v === 'string') as string[];
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < rest.length; i += 2) dimensions[rest[i]!] = rest[i + 1]!;
      metrics.push({ widget: w.properties.title, namespace: namespace!, name: name!, dimensions, options });
    }
  }
  return { name: d.inputs.dashboardName, widgets: body.widgets, metrics, expressions };
}

/** The alarms by name. */
function alarms(g: Graph): Record<string, Record<string, unknown>> {
  return Object.fromEntries(g.all(ALARM).map((a) => [String(a.inputs.name), a.inputs]));
}

/** The query of one metric in a metric-math alarm. */
function alarmMetric(id: string, namespace: string, service: string, metricName: string, stat: string) {
  return { id, metric: { namespace, metricName, dimensions: { Service: service }, period: 60, stat } };
}

/**
 * The four alarms with their thresholds: one-minute periods, 3 breaching of the last 5, missing data
 * not breaching; the rate and the percentiles count only minutes with at least 20 requests.
 */
function assertAlarms(g: Graph, o: { namespace: string; service: string; errorRate: number; p99: number; queueWait: number; invokeFailures: number; actions: string[] }) {
  const found = alarms(g);
  const s = o.service;
  assert.deepEqual(Object.keys(found).sort(), [`${s}-5xx-rate`, `${s}-invoke-failures`, `${s}-queue-wait-p99`, `${s}-request-duration-p99`]);
  for (const a of Object.values(found)) {
    assert.equal(a.comparisonOperator, 'GreaterThanThreshold');
    assert.equal(a.evaluationPeriods, 5);
    assert.equal(a.datapointsToAlarm, 3);
    assert.equal(a.treatMissingData, 'notBreaching');
    assert.deepEqual(a.alarmActions, o.actions);
    assert.deepEqual(a.okActions, o.actions);
  }
  const rate = found[`${s}-5xx-rate`]!;
  assert.equal(rate.threshold, o.errorRate);
  assert.deepEqual(rate.metricQueries, [
    alarmMetric('requests', o.namespace, s, 'Requests', 'Sum'),
    alarmMetric('errors', o.namespace, s, 'Responses5xx', 'Sum'),
    { id: 'rate', expression: 'IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)', label: '5xx % of requests', returnData: true },
  ]);
  for (const [alarm, metricName, threshold] of [
    ['request-duration-p99', 'RequestDuration', o.p99],
    ['queue-wait-p99', 'QueueWait', o.queueWait],
  ] as const) {
    const a = found[`${s}-${alarm}`]!;
    assert.equal(a.threshold, threshold, alarm);
    assert.deepEqual(a.metricQueries, [
      alarmMetric('requests', o.namespace, s, 'Requests', 'Sum'),
      alarmMetric('latency', o.namespace, s, metricName, 'p99'),
      { id: 'guarded', expression: 'IF(requests >= 20, latency, 0)', label: `${metricName} p99 (ms)`, returnData: true },
    ]);
    assert.equal(a.metricName, undefined, 'metric math only');
  }
  const failures = found[`${s}-invoke-failures`]!;
  assert.equal(failures.threshold, o.invokeFailures);
  assert.deepEqual(
    [failures.namespace, failures.metricName, failures.dimensions, failures.statistic, failures.period],
    [o.namespace, 'InvokeFailures', { Service: s }, 'Sum', 60],
  );
}

before(async () => {
  const install = await sstInstallOnce(ROOT);
  timings.push(`sst install: ${install.ms} ms`);
});

after(() => {
  rmSync(CHECK, { recursive: true, force: true });
  console.log(`infra check timings: ${timings.join('; ')}`);
});

test('sst install: the platform of the pinned SST, with the AWS provider sst.config.ts pins', () => {
  const sstVersion = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/sst/package.json'), 'utf8')) as { version: string }).version;
  assert.equal(readFileSync(path.join(ROOT, '.sst/platform/version'), 'utf8').trim(), sstVersion);
  const lock = JSON.parse(readFileSync(path.join(ROOT, '.sst/provider-lock.json'), 'utf8')) as { name: string; version: string }[];
  assert.deepEqual(
    lock.map((p) => [p.name, p.version]),
    [['aws', '7.20.0']],
  );
  assert.ok(existsSync(path.join(ROOT, '.sst/platform/node_modules/@pulumi/pulumi/package.json')));
  assert.ok(existsSync(path.join(ROOT, '.sst/platform/src/components/aws/service.ts')), "SST's component sources");
});

test("sst.config.ts and infra/sst type-check against SST's declarations (.sst/platform)", async () => {
  const r = await tsc(path.join(ROOT, 'infra/tsconfig.sst.json'));
  timings.push(`tsc over sst.config.ts: ${r.ms} ms`);
  assert.equal(r.code, 0, r.output);
});

/** Type-checks sst.config.ts with one edit (a copy under .sst/check), returning tsc's output and the edited line. */
async function tscWithEdit(label: string, from: string, to: string): Promise<{ code: number; output: string; line: number }> {
  const original = readFileSync(path.join(ROOT, 'sst.config.ts'), 'utf8');
  assert.ok(original.includes(from), `sst.config.ts no longer contains ${from}`);
  const edited = original
    .replace('./.sst/platform/config.d.ts', '../../platform/config.d.ts')
    .replace("'./infra/sst/lambda-dispatch.ts'", "'../../../infra/sst/lambda-dispatch.ts'")
    .replace(from, to);
  const dir = path.join(CHECK, label);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'sst.config.ts'), edited);
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../../../infra/tsconfig.sst.json', files: ['sst.config.ts'] }));
  const r = await tsc(path.join(dir, 'tsconfig.json'));
  return { ...r, line: edited.split('\n').findIndex((l) => l.includes(to)) + 1 };
}

test('a wrong property in sst.config.ts fails the type check, naming the line and the property', async () => {
  const [property, type] = await Promise.all([
    tscWithEdit('bad-property', 'router: {', 'routr: {'),
    tscWithEdit('bad-type', 'memory: 512', "memory: '512 MB'"),
  ]);
  assert.notEqual(property.code, 0);
  assert.match(
    property.output,
    new RegExp(
      `^\\.sst/check/bad-property/sst\\.config\\.ts\\(${property.line},\\d+\\): error TS2561: Object literal may only specify known properties, but 'routr' does not exist in type 'LambdaDispatchArgs'\\. Did you mean to write 'router'\\?$`,
      'm',
    ),
  );
  assert.equal(property.output.match(/error TS/g)?.length, 1, property.output);
  assert.notEqual(type.code, 0);
  assert.match(type.output, new RegExp(`sst\\.config\\.ts\\(${type.line},\\d+\\): error TS2322: Type 'string' is not assignable to type 'number'\\.`));
  assert.equal(type.output.match(/error TS/g)?.length, 1, type.output);
});

test('deploy, production stage: the function in the private subnets, invokable by the router only', async () => {
  const r = await synth('production', false);
  assert.deepEqual(r.errors, []);
  const g = new Graph(r.resources);

  const fn = g.one('aws:lambda/function:Function');
  const privateSubnets = g.all('aws:ec2/subnet:Subnet', /PrivateSubnet\d+$/).map((s) => s.id);
  assert.equal(privateSubnets.length, 2);
  const fnSg = g.idOf('aws:ec2/securityGroup:SecurityGroup', /FunctionSecurityGroup$/);
  assert.deepEqual(fn.inputs.vpcConfig, { subnetIds: privateSubnets, securityGroupIds: [fnSg] });
  assert.equal(fn.inputs.runtime, 'nodejs24.x');
  assert.equal(fn.inputs.timeout, 60);
  assert.equal(fn.inputs.memorySize, 512);
  assert.deepEqual(fn.inputs.architectures, ['arm64']);
  assert.equal(fn.inputs.handler, 'demo/function.handler');
  const fnRole = g.one('aws:iam/role:Role', /FunctionRole$/);
  assert.ok((fnRole.inputs.managedPolicyArns as string[]).some((a) => a.endsWith('/AWSLambdaVPCAccessExecutionRole')));
  assert.ok(!g.has('aws:lambda/functionUrl:FunctionUrl'), 'no function URL: only the router invokes it');

  // SST built the handler through the CLI (here its stand-in, with SST's esbuild options).
  const build = r.rpc.find((c) => c.method === 'Runtime.Build');
  assert.equal(build?.args.handler, 'demo/function.handler');
  assert.ok(existsSync(path.join(ROOT, '.sst/artifacts/LambdaDispatchFunction-src/demo/function.mjs')));

  const taskRole = g.one('aws:iam/role:Role', /RouterTaskRole$/);
  const invoke = inlineStatements(taskRole.inputs).filter((s) => s.Action.some((a) => a.startsWith('lambda:')));
  assert.deepEqual(invoke, [{ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [String(fn.state.arn)] }]);
});

test('deploy, production stage: the control port admits the function security group and nothing else', async () => {
  const g = new Graph((await synth('production', false)).resources);
  const routerSg = g.idOf('aws:ec2/securityGroup:SecurityGroup', /RouterSecurityGroup$/);
  const fnSg = g.idOf('aws:ec2/securityGroup:SecurityGroup', /FunctionSecurityGroup$/);
  const lbSg = g.idOf('aws:ec2/securityGroup:SecurityGroup', /LoadBalancerSecurityGroup$/);
  assert.equal(g.one('aws:ec2/securityGroup:SecurityGroup', /RouterSecurityGroup$/).inputs.ingress, undefined, 'no inline ingress');
  const rules = g
    .all('aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule')
    .filter((r) => r.inputs.securityGroupId === routerSg)
    .map((r) => ({ from: r.inputs.referencedSecurityGroupId, port: [r.inputs.fromPort, r.inputs.toPort], proto: r.inputs.ipProtocol, cidr: r.inputs.cidrIpv4 }));
  assert.deepEqual(
    rules.sort((a, b) => Number(a.port[0]) - Number(b.port[0])),
    [
      { from: lbSg, port: [5001, 5001], proto: 'tcp', cidr: undefined },
      { from: fnSg, port: [5003, 5003], proto: 'tcp', cidr: undefined },
    ],
  );
  // EC2 refuses other characters in these descriptions, and only at deploy time.
  for (const r of [...g.all('aws:ec2/securityGroup:SecurityGroup'), ...g.all('aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule')]) {
    assert.match(String(r.inputs.description ?? ''), /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/, `${r.name}: description`);
  }
  const service = g.one('aws:ecs/service:Service');
  assert.deepEqual(service.inputs.networkConfiguration, {
    assignPublicIp: false,
    securityGroups: [routerSg],
    subnets: g.all('aws:ec2/subnet:Subnet', /PrivateSubnet\d+$/).map((s) => s.id),
  });
});

test('deploy, production stage: load balancer, listener and health check on the router', async () => {
  const r = await synth('production', false);
  const g = new Graph(r.resources);
  const lb = g.one('aws:lb/loadBalancer:LoadBalancer');
  assert.equal(lb.inputs.internal, false);
  assert.equal(lb.inputs.loadBalancerType, 'application');
  assert.deepEqual(lb.inputs.subnets, g.all('aws:ec2/subnet:Subnet', /PublicSubnet\d+$/).map((s) => s.id));
  const target = g.one('aws:lb/targetGroup:TargetGroup');
  assert.equal(target.inputs.port, 5001);
  assert.equal(target.inputs.protocol, 'HTTP');
  assert.equal(target.inputs.targetType, 'ip');
  assert.deepEqual(target.inputs.healthCheck, { path: HEALTH, interval: 10, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 3, matcher: '200' });
  const listener = g.one('aws:lb/listener:Listener');
  assert.equal(listener.inputs.port, 80);
  assert.equal(listener.inputs.protocol, 'HTTP');
  assert.deepEqual(listener.inputs.defaultActions, [{ type: 'forward', targetGroupArn: target.state.arn }]);
  assert.equal(r.outputs.url, `http://${String(lb.state.dnsName)}`, 'the stack output is the public URL');

  const [container, ...others] = containerDefinitions(g);
  assert.equal(others.length, 0);
  assert.ok(container!.healthCheck?.command.join(' ').includes(`127.0.0.1:5001${HEALTH}`), 'ECS checks the container too');
  assert.deepEqual(g.one('aws:ecs/service:Service').inputs.loadBalancers, [{ targetGroupArn: target.state.arn, containerName: container!.name, containerPort: 5001 }]);
});

test('deploy, production stage: the router is told the function and its settings, image from infra/router.Dockerfile', async () => {
  const g = new Graph((await synth('production', false)).resources);
  const fn = g.one('aws:lambda/function:Function');
  const env = routerEnv(g);
  assert.equal(env.LAMBDA_DISPATCH_FunctionName, fn.inputs.name);
  assert.equal(env.LAMBDA_DISPATCH_FunctionTimeout, '60');
  assert.equal(env.LAMBDA_DISPATCH_IncomingRequestHTTPPort, '5001');
  assert.equal(env.LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port, '5003');
  assert.equal(env.AWS_REGION, 'us-east-1');
  assert.equal(env.LAMBDA_DISPATCH_RouterCallbackHost, undefined, 'each task finds its own address (ECS task metadata)');
  // x-forwarded-* is believed from the load balancer's subnets only, not from the whole VPC.
  assert.equal(env.LAMBDA_DISPATCH_TrustProxy, '10.0.0.0/22,10.0.8.0/22');
  assert.equal(env.LAMBDA_DISPATCH_TrustProxy, publicCidrs(g));
  assert.deepEqual(g.one('aws:lb/loadBalancer:LoadBalancer').inputs.subnets, g.all('aws:ec2/subnet:Subnet', /PublicSubnet\d+$/).map((s) => s.id));
  assertControlTlsOn(env);

  const image = g.one('docker-build:index:Image');
  assert.deepEqual(image.inputs.dockerfile, { location: path.join(ROOT, 'infra/router.Dockerfile') });
  assert.deepEqual(image.inputs.context, { location: ROOT.replace(/\/$/, '') });
  assert.deepEqual(image.inputs.platforms, ['linux/arm64']);
  assert.equal(image.inputs.push, true);
  assert.ok(existsSync(path.join(ROOT, 'infra/router.Dockerfile')));
  const task = g.one('aws:ecs/taskDefinition:TaskDefinition');
  assert.deepEqual(task.inputs.runtimePlatform, { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' });
  assert.equal(task.inputs.cpu, '512');
  assert.equal(task.inputs.memory, '1024');
});

test('deploy, production stage: drains before it stops, rolls without losing capacity, two tasks in two zones', async () => {
  const g = new Graph((await synth('production', false)).resources);
  assertDrain(g, 20);
  const service = g.one('aws:ecs/service:Service');
  assert.equal(service.inputs.desiredCount, 2, 'one task would be a single point of failure that every deploy takes down');
  assert.equal(g.one('aws:appautoscaling/target:Target').inputs.minCapacity, 2);
  const zones = g.all('aws:ec2/subnet:Subnet', /PrivateSubnet\d+$/).map((s) => s.inputs.availabilityZone);
  assert.deepEqual(zones, ['us-east-1a', 'us-east-1b']);
});

test('deploy, production stage: CPU autoscaling at 50% between 2 and 10 tasks, regular Fargate, managed NAT', async () => {
  const g = new Graph((await synth('production', false)).resources);
  const target = g.one('aws:appautoscaling/target:Target');
  assert.equal(target.inputs.minCapacity, 2);
  assert.equal(target.inputs.maxCapacity, 10);
  assert.equal(target.inputs.scalableDimension, 'ecs:service:DesiredCount');
  const policies = g.all('aws:appautoscaling/policy:Policy');
  assert.equal(policies.length, 1, 'CPU only, no memory policy');
  assert.deepEqual(policies[0]!.inputs.targetTrackingScalingPolicyConfiguration, {
    predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' },
    targetValue: 50,
  });
  const service = g.one('aws:ecs/service:Service');
  assert.equal(service.inputs.launchType, 'FARGATE');
  assert.equal(g.all('aws:ec2/natGateway:NatGateway').length, 2, 'a managed NAT gateway per availability zone');
  assert.ok(!g.has('aws:ec2/instance:Instance'));
});

test('deploy, production stage: the router publishes its metrics (EMF) and a dashboard charts them with the ECS service and the function', async () => {
  const g = new Graph((await synth('production', false)).resources);
  const service = 'lambda-dispatch-production-LambdaDispatch';
  const env = routerEnv(g);
  assert.equal(env.LAMBDA_DISPATCH_EmfNamespace, 'LambdaDispatch');
  assert.equal(env.LAMBDA_DISPATCH_EmfService, service, '$app.name-$app.stage-component name');
  assert.equal(env.LAMBDA_DISPATCH_EmfIntervalMs, undefined, "the router's default, one minute");

  const d = dashboard(g);
  assert.equal(d.name, `${service}-us-east-1`, 'dashboards are global to the account: the region is in the name');
  for (const w of d.widgets) {
    assert.equal(w.properties.region, 'us-east-1', w.properties.title);
    assert.ok(w.x + w.width <= 24, 'within the grid');
  }
  const ours = d.metrics.filter((m) => m.namespace === 'LambdaDispatch');
  assert.deepEqual([...new Set(ours.map((m) => m.name))].sort(), [...ROUTER_METRICS].sort(), 'every metric of the router');
  for (const m of ours) assert.deepEqual(m.dimensions, { Service: service }, m.name);
  const stats = (name: string) => ours.filter((m) => m.name === name).map((m) => m.options.stat);
  assert.deepEqual(stats('RequestDuration'), ['p50', 'p99']);
  assert.deepEqual(stats('QueueWait'), ['p50', 'p99']);
  assert.deepEqual(stats('AppTime'), ['p99']);
  for (const counter of ['Requests', 'Responses4xx', 'Responses5xx', 'Invokes', 'InvokeFailures']) assert.deepEqual(stats(counter), ['Sum'], counter);
  for (const gauge of ['InFlight', 'Waiting', 'Instances']) assert.deepEqual(stats(gauge), ['Maximum'], gauge);
  // The 5xx rate beside the counts is the alarm's expression over the widget's own series.
  assert.deepEqual(d.expressions, [{ widget: 'Requests and 4xx/5xx per minute', expression: 'IF(requests >= 20, 100 * FILL(r5xx, 0) / requests, 0)' }]);
  assert.deepEqual(
    ours.filter((m) => m.options.id).map((m) => [m.options.id, m.name]),
    [['requests', 'Requests'], ['r4xx', 'Responses4xx'], ['r5xx', 'Responses5xx']],
  );

  const ecs = { ClusterName: String(g.one('aws:ecs/cluster:Cluster').state.name), ServiceName: String(g.one('aws:ecs/service:Service').state.name) };
  const aws = (namespace: string) => d.metrics.filter((m) => m.namespace === namespace).map((m) => [m.name, m.dimensions]);
  assert.deepEqual(aws('AWS/ECS'), [['CPUUtilization', ecs], ['CPUUtilization', ecs], ['MemoryUtilization', ecs], ['MemoryUtilization', ecs]]);
  assert.deepEqual(
    d.metrics.filter((m) => m.namespace === 'AWS/ECS').map((m) => m.options.stat),
    ['Average', 'Maximum', 'Average', 'Maximum'],
  );
  const fn = { FunctionName: String(g.one('aws:lambda/function:Function').inputs.name) };
  assert.deepEqual(aws('AWS/Lambda'), [['Errors', fn], ['Throttles', fn], ['ConcurrentExecutions', fn]]);
  assert.deepEqual([...new Set(d.metrics.map((m) => m.namespace))].sort(), ['AWS/ECS', 'AWS/Lambda', 'LambdaDispatch']);
});

test('deploy, production stage: alarms on the 5xx rate, the p99 of request duration and queue wait, and invoke failures', async () => {
  const g = new Graph((await synth('production', false)).resources);
  assertAlarms(g, { namespace: 'LambdaDispatch', service: 'lambda-dispatch-production-LambdaDispatch', errorRate: 5, p99: 5000, queueWait: 1000, invokeFailures: 0, actions: [] });
  // The thresholds are drawn on the dashboard's widgets.
  const lines = dashboard(g).widgets.flatMap((w) => ((w.properties as { annotations?: { horizontal: { value: number }[] } }).annotations?.horizontal ?? []).map((h) => [w.properties.title, h.value]));
  assert.deepEqual(lines, [['RequestDuration (ms)', 5000], ['QueueWait and AppTime (ms)', 1000], ['Invokes and failures per minute', 0]]);
});

test('deploy, another stage: the same metrics, dashboard and alarms, under its own Service value', async () => {
  const g = new Graph((await synth('pr-42', false)).resources);
  const service = 'lambda-dispatch-pr-42-LambdaDispatch';
  assert.equal(routerEnv(g).LAMBDA_DISPATCH_EmfService, service);
  assert.equal(dashboard(g).name, `${service}-us-east-1`);
  assertAlarms(g, { namespace: 'LambdaDispatch', service, errorRate: 5, p99: 5000, queueWait: 1000, invokeFailures: 0, actions: [] });
});

test('deploy, another stage: NAT instances instead of gateways, the router on Fargate Spot', async () => {
  const r = await synth('pr-42', false);
  assert.deepEqual(r.errors, []);
  const g = new Graph(r.resources);
  assert.ok(!g.has('aws:ec2/natGateway:NatGateway'));
  assert.equal(g.all('aws:ec2/instance:Instance', /NatInstance\d+$/).length, 2);
  const service = g.one('aws:ecs/service:Service');
  assert.equal(service.inputs.launchType, undefined);
  assert.deepEqual(service.inputs.capacityProviderStrategies, [
    { capacityProvider: 'FARGATE', weight: 0 },
    { capacityProvider: 'FARGATE_SPOT', weight: 1 },
  ]);
  // Spot defaults to x86_64, which Fargate Spot supports everywhere.
  assert.deepEqual(g.one('aws:ecs/taskDefinition:TaskDefinition').inputs.runtimePlatform, { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' });
  assert.deepEqual(g.one('docker-build:index:Image').inputs.platforms, ['linux/amd64']);
});

test('deploy, another stage: one task by default, the same drain and rolling deploy, TrustProxy, TLS left on', async () => {
  const g = new Graph((await synth('pr-42', false)).resources);
  assert.equal(g.one('aws:ecs/service:Service').inputs.desiredCount, 1);
  assert.equal(g.one('aws:appautoscaling/target:Target').inputs.minCapacity, 1);
  assertDrain(g, 20);
  const env = routerEnv(g);
  assert.equal(env.LAMBDA_DISPATCH_TrustProxy, publicCidrs(g));
  assertControlTlsOn(env);
});

test('sst dev: the router runs locally as the Service dev command, the function live through the bridge', async () => {
  const r = await synth('dev', true);
  assert.deepEqual(r.errors, []);
  const g = new Graph(r.resources);
  for (const type of ['aws:ecs/service:Service', 'aws:ecs/taskDefinition:TaskDefinition', 'aws:lb/loadBalancer:LoadBalancer', 'docker-build:index:Image']) {
    assert.ok(!g.has(type), `${type} is not deployed in dev`);
  }
  const fn = g.one('aws:lambda/function:Function');
  const devCommand = g.one('sst:sst:DevCommand', /RouterDev$/).inputs._dev as {
    command: string;
    directory: string;
    autostart: boolean;
    environment: Record<string, string>;
    aws: { role: string };
  };
  assert.equal(devCommand.command, 'node --import tsx infra/router/dev.ts');
  assert.ok(existsSync(path.join(ROOT, 'infra/router/dev.ts')));
  assert.equal(devCommand.directory, '.');
  assert.equal(devCommand.autostart, true);
  assert.equal(devCommand.environment.LAMBDA_DISPATCH_FunctionName, fn.inputs.name);
  assert.equal(devCommand.environment.LAMBDA_DISPATCH_FunctionTimeout, '60');
  assert.equal(devCommand.environment.LAMBDA_DISPATCH_ShutdownGraceMs, '20000');
  // No load balancer in front of the local router: nothing's x-forwarded-* is to be believed.
  assert.equal(devCommand.environment.LAMBDA_DISPATCH_TrustProxy, undefined);
  assertControlTlsOn(devCommand.environment);
  // The local router runs as the task role, which may invoke the function and nothing else.
  const taskRole = g.one('aws:iam/role:Role', /RouterTaskRole$/);
  assert.equal(devCommand.aws.role, taskRole.state.arn);
  const invoke = inlineStatements(taskRole.inputs).filter((s) => s.Action.some((a) => a.startsWith('lambda:')));
  assert.deepEqual(invoke, [{ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [String(fn.state.arn)] }]);

  // The deployed function is SST's bridge; the handler runs on this machine (Runtime.AddTarget).
  assert.equal(fn.inputs.handler, 'bootstrap');
  assert.equal(fn.inputs.description, 'live');
  const target = r.rpc.find((c) => c.method === 'Runtime.AddTarget');
  assert.equal(target?.args.handler, 'demo/function.handler');
  assert.equal(target?.args.runtime, 'nodejs24.x');
  assert.ok(!r.rpc.some((c) => c.method === 'Runtime.Build'));
  // The bridge sits in the private subnets and reaches SST's realtime service through NAT.
  assert.deepEqual((fn.inputs.vpcConfig as { subnetIds: string[] }).subnetIds, g.all('aws:ec2/subnet:Subnet', /PrivateSubnet\d+$/).map((s) => s.id));
  assert.ok(g.has('aws:ec2/instance:Instance', /NatInstance\d+$/));
  assert.equal(r.outputs.url, 'http://127.0.0.1:5001');
});

test('sst dev: no metrics, dashboard or alarms (the local router writes to its terminal, no ECS service runs)', async () => {
  const g = new Graph((await synth('dev', true)).resources);
  const env = (g.one('sst:sst:DevCommand', /RouterDev$/).inputs._dev as { environment: Record<string, string> }).environment;
  assert.deepEqual(Object.keys(env).filter((k) => k.startsWith('LAMBDA_DISPATCH_Emf')), []);
  assert.ok(!g.has(DASHBOARD));
  assert.ok(!g.has(ALARM));
});

/** A config that deploys LambdaDispatch with the given arguments (source text), under .sst/check. */
function variantConfig(file: string, appName: string, args: string, output = '{}'): string {
  const dir = path.join(CHECK, 'variants');
  mkdirSync(dir, { recursive: true });
  const configPath = path.join(dir, file);
  writeFileSync(
    configPath,
    `export default $config({
      app: () => ({ name: ${JSON.stringify(appName)}, home: 'aws', providers: { aws: '7.20.0' } }),
      async run() {
        const { LambdaDispatch } = await import(${JSON.stringify(path.join(ROOT, 'infra/sst/lambda-dispatch.ts'))});
        const d = new LambdaDispatch('Dispatch', ${args});
        return ${output};
      },
    });\n`,
  );
  return configPath;
}

test('settings the types cannot catch fail synthesis with a message that names them', async () => {
  const [ours, drain, sst] = await Promise.all([
    synth('staging', false, variantConfig('bad-scaling.config.ts', 'lambda-dispatch', `{ function: { handler: 'demo/function.handler', timeout: 901 }, router: { scaling: { min: 5, max: 2 } } }`)),
    synth(
      'production',
      false,
      variantConfig(
        'bad-drain.config.ts',
        'lambda-dispatch',
        `{ function: { handler: 'demo/function.handler' }, router: { shutdownGraceSeconds: 111, scaling: { max: 1 }, settings: { LAMBDA_DISPATCH_ShutdownGraceMs: '5000', LAMBDA_DISPATCH_ControlTls: 'False' } } }`,
      ),
    ),
    // SST's own checks run too: Fargate allows only some memory sizes per CPU size.
    synth('staging', false, variantConfig('bad-size.config.ts', 'lambda-dispatch', `{ function: { handler: 'demo/function.handler' }, router: { cpu: '0.25 vCPU', memory: '8 GB' } }`)),
  ]);
  assert.deepEqual(ours.errors, [
    'LambdaDispatch "Dispatch": function.timeout must be an integer from 1 to 900, got 901; router.scaling.min (5) exceeds router.scaling.max (2)',
  ]);
  assert.deepEqual(drain.errors, [
    'LambdaDispatch "Dispatch": ' +
      [
        'router.scaling.min (2, the default in the production stage) exceeds router.scaling.max (1)',
        "router.shutdownGraceSeconds must be an integer from 0 to 110 (ECS's stop timeout follows it at +10 s and Fargate allows at most 120 s), got 111",
        'router.settings.LAMBDA_DISPATCH_ShutdownGraceMs cannot be set: use router.shutdownGraceSeconds, which the deregistration delay and the stop timeout follow',
        `router.settings.LAMBDA_DISPATCH_ControlTls cannot turn off TLS on the control channel (the function's callbacks cross the VPC), got "False"`,
      ].join('; '),
  ]);
  assert.ok(!new Graph(drain.resources).has('aws:ecs/service:Service'), 'nothing is created');
  assert.deepEqual(sst.errors, ['Unsupported memory: 8 GB. The supported values for memory for a 0.25 vCPU CPU are 0.5 GB, 1 GB, 2 GB']);
});

/** The observability options: renamed with custom thresholds, dashboard and alarms off, metrics off (and bad values). */
function observabilityVariants() {
  const fn = `function: { handler: 'demo/function.handler' }`;
  const topic = 'arn:aws:sns:us-east-1:123456789012:oncall';
  return {
    topic,
    custom: synth(
      'staging',
      false,
      variantConfig(
        'obs-custom.config.ts',
        'shop',
        `{ ${fn}, metrics: { namespace: 'Shop/Edge' }, alarms: { errorRatePercent: 2.5, p99Ms: 2500, queueWaitP99Ms: 250, invokeFailuresPerMinute: 3, actions: ['${topic}'] } }`,
      ),
    ),
    off: synth('staging', false, variantConfig('obs-off.config.ts', 'shop', `{ ${fn}, dashboard: false, alarms: false }`)),
    noMetrics: synth('staging', false, variantConfig('obs-no-metrics.config.ts', 'shop', `{ ${fn}, metrics: false, alarms: false }`)),
    bad: synth(
      'staging',
      false,
      variantConfig(
        'obs-bad.config.ts',
        'shop',
        `{ ${fn}, router: { settings: { LAMBDA_DISPATCH_EmfService: 'mine', LAMBDA_DISPATCH_EmfIntervalMs: '300000' } }, metrics: { namespace: 'AWS/Shop' },
           alarms: { errorRatePercent: 100, p99Ms: 0, queueWaitP99Ms: Number.NaN, invokeFailuresPerMinute: 1.5, actions: ['oncall', '${topic}', '${topic}', '${topic}', '${topic}', '${topic}'] } }`,
      ),
    ),
    alarmsWithoutMetrics: synth('staging', false, variantConfig('obs-alarms-no-metrics.config.ts', 'shop', `{ ${fn}, metrics: false }`)),
  };
}

test('observability options: a namespace, thresholds and SNS actions of your own; dashboard: false and alarms: false remove them; metrics: false', async () => {
  const v = observabilityVariants();
  const [custom, off, noMetrics] = await Promise.all([v.custom, v.off, v.noMetrics]);
  for (const r of [custom, off, noMetrics]) assert.deepEqual(r.errors, []);
  const service = 'shop-staging-Dispatch';

  let g = new Graph(custom.resources);
  assert.equal(routerEnv(g).LAMBDA_DISPATCH_EmfNamespace, 'Shop/Edge');
  assert.equal(routerEnv(g).LAMBDA_DISPATCH_EmfService, service);
  const d = dashboard(g);
  assert.equal(d.name, `${service}-us-east-1`);
  assert.deepEqual([...new Set(d.metrics.filter((m) => !m.namespace.startsWith('AWS/')).map((m) => m.namespace))], ['Shop/Edge']);
  assert.equal(d.metrics.filter((m) => m.namespace === 'Shop/Edge').length, 13);
  assertAlarms(g, { namespace: 'Shop/Edge', service, errorRate: 2.5, p99: 2500, queueWait: 250, invokeFailures: 3, actions: [v.topic] });

  // Off: nothing to look at, but the router still publishes its metrics.
  g = new Graph(off.resources);
  assert.ok(!g.has(DASHBOARD), 'dashboard: false');
  assert.ok(!g.has(ALARM), 'alarms: false');
  assert.equal(routerEnv(g).LAMBDA_DISPATCH_EmfNamespace, 'LambdaDispatch');
  assert.equal(routerEnv(g).LAMBDA_DISPATCH_EmfService, service);

  // metrics: false: the router writes no EMF lines; the dashboard keeps what AWS publishes itself.
  g = new Graph(noMetrics.resources);
  assert.deepEqual(Object.keys(routerEnv(g)).filter((k) => k.startsWith('LAMBDA_DISPATCH_Emf')), []);
  assert.ok(!g.has(ALARM));
  assert.deepEqual([...new Set(dashboard(g).metrics.map((m) => m.namespace))], ['AWS/ECS', 'AWS/Lambda']);
  assert.deepEqual(dashboard(g).expressions, []);
});

test('observability options the types cannot catch fail synthesis with a message that names them', async () => {
  const v = observabilityVariants();
  const [bad, alarmsWithoutMetrics] = await Promise.all([v.bad, v.alarmsWithoutMetrics]);
  assert.deepEqual(bad.errors, [
    'LambdaDispatch "Dispatch": ' +
      [
        'metrics.namespace must be 1–255 of A-Z a-z 0-9 . - _ / # : and space, not start with ":" or "AWS/", got "AWS/Shop"',
        "router.settings.LAMBDA_DISPATCH_EmfService cannot be set: the dashboard and the alarms follow the component's (use metrics.namespace, or metrics: false)",
        'alarms.errorRatePercent must be a percentage above 0 and below 100, got 100',
        'alarms.p99Ms must be a number of milliseconds above 0, got 0',
        'alarms.queueWaitP99Ms must be a number of milliseconds above 0, got NaN',
        'alarms.invokeFailuresPerMinute must be an integer from 0, got 1.5',
        "alarms.actions may name at most 5 topics (CloudWatch's limit), got 6",
        'alarms.actions must be SNS topic ARNs, got "oncall"',
        'router.settings.LAMBDA_DISPATCH_EmfIntervalMs must be 1–60000 (ms) while there are alarms (they count per minute), got "300000"',
      ].join('; '),
  ]);
  assert.ok(!new Graph(bad.resources).has(DASHBOARD), 'nothing is created');
  assert.deepEqual(alarmsWithoutMetrics.errors, ['LambdaDispatch "Dispatch": alarms watch the router\'s metrics: with metrics: false, set alarms: false too']);
});

test('several functions: each deployed like the first, the router told their routes and deployed names, invoke granted on exactly them', async () => {
  const configPath = variantConfig(
    'functions.config.ts',
    'lambda-dispatch',
    `{
      function: { handler: 'demo/function.handler' },
      functions: [
        { name: 'images', function: { handler: 'demo/function.handler', memory: 1024, timeout: 30 }, settings: { MaxConcurrentCount: 4 } },
        { name: 'beta', function: { handler: 'demo/function.handler' } },
      ],
      routes: [{ pathPrefix: '/images', function: 'images' }, { function: 'main' }],
      header: { name: 'x-fn', allow: { 'beta-2026': 'beta' } },
      workers: { image: 'public.ecr.aws/example/images:1', function: 'images' },
    }`,
  );
  const { r } = await synthWithWorkerSecrets(configPath);
  assert.deepEqual(r.errors, []);
  const g = new Graph(r.resources);
  // The workers run the images function's app: their handshake names it.
  const workerTask = g.all('aws:ecs/taskDefinition:TaskDefinition').find((x) => /Workers/.test(x.name))!;
  const [workerContainer] = JSON.parse(String(workerTask.inputs.containerDefinitions)) as { environment: { name: string; value: string }[] }[];
  assert.equal(workerContainer!.environment.find((e) => e.name === 'LAMBDA_DISPATCH_WorkerFunction')?.value, 'images');
  const fns = g.all('aws:lambda/function:Function');
  assert.equal(fns.length, 3);
  // SST's Function component `DispatchFunctionImages` makes the Lambda function `DispatchFunctionImagesFunction`.
  const [main, images, beta] = [/^DispatchFunctionFunction$/, /^DispatchFunctionImagesFunction$/, /^DispatchFunctionBetaFunction$/].map((re) => g.one('aws:lambda/function:Function', re));
  const fnSg = g.idOf('aws:ec2/securityGroup:SecurityGroup', /FunctionSecurityGroup$/);
  for (const f of [main, images, beta]) assert.deepEqual((f!.inputs.vpcConfig as { securityGroupIds: string[] }).securityGroupIds, [fnSg], 'every function may reach the control port');
  assert.equal(images!.inputs.memorySize, 1024);
  const env = routerEnv(g);
  const routes = JSON.parse(env.LAMBDA_DISPATCH_Routes!) as { functions: { name: string; functionName: string; settings: Record<string, unknown> }[]; routes: unknown[]; header: unknown };
  assert.deepEqual(
    routes.functions.map((f) => [f.name, f.functionName, f.settings]),
    [
      ['main', main!.state.name, { FunctionTimeout: 60 }],
      ['images', images!.state.name, { MaxConcurrentCount: 4, FunctionTimeout: 30 }],
      ['beta', beta!.state.name, { FunctionTimeout: 60 }],
    ],
  );
  assert.deepEqual(routes.routes, [{ pathPrefix: '/images', function: 'images' }, { function: 'main' }]);
  assert.deepEqual(routes.header, { name: 'x-fn', allow: { 'beta-2026': 'beta' } });
  // The router's own reader accepts what the component wrote.
  const { loadRouterConfig } = await import('../core/config.ts');
  assert.deepEqual(loadRouterConfig({ LAMBDA_DISPATCH_Routes: env.LAMBDA_DISPATCH_Routes }).routes?.functions.map((c) => c.functionName), [main!.state.name, images!.state.name, beta!.state.name]);
  const taskRole = g.one('aws:iam/role:Role', /RouterTaskRole$/);
  const invoke = inlineStatements(taskRole.inputs).filter((st) => st.Action.some((a) => a.startsWith('lambda:')));
  assert.deepEqual(invoke, [{ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [main, images, beta].map((f) => String(f!.state.arn)) }]);
});

test('several functions: a route to an unknown function, a reused name or a router-wide setting fails synthesis naming it', async () => {
  const r = await synth(
    'staging',
    false,
    variantConfig(
      'bad-functions.config.ts',
      'lambda-dispatch',
      `{
        function: { handler: 'demo/function.handler' },
        functions: [{ name: 'main', function: { handler: 'demo/function.handler' }, settings: { IncomingRequestHTTPPort: 1 } }],
        routes: [{ pathPrefix: '/x', function: 'nope' }],
        workers: { image: 'public.ecr.aws/example/app:1', function: 'nope' },
      }`,
    ),
  );
  const text = r.errors.join('\n');
  assert.match(text, /functions\[0\]\.name cannot be "main"/);
  assert.match(text, /functions\[0\]\.settings\.IncomingRequestHTTPPort is not a per-function setting/);
  assert.match(text, /routes\[0\]\.function names "nope", which is not in "functions"/);
  assert.match(text, /workers\.function must be one of "main", got "nope"/);
});

test('container workers: an ECS service of the same app registers with the routers through the shared secret and the pinned certificate, scaled on its own CPU', async () => {
  const configPath = variantConfig(
    'workers.config.ts',
    'lambda-dispatch',
    `{
      function: { handler: 'demo/function.handler' },
      workers: { image: 'public.ecr.aws/example/app:1', command: ['npx', 'lambda-dispatch', 'worker', '--module', 'app.mjs'], maxConcurrent: 16, scaling: { min: 2, max: 6, cpuUtilization: 70 }, function: 'main' },
    }`,
  );
  const { r, tls, secret } = await synthWithWorkerSecrets(configPath);
  assert.deepEqual(r.errors, []);
  const g = new Graph(r.resources);
  const services = g.all('aws:ecs/service:Service');
  assert.equal(services.length, 2);
  const tasks = g.all('aws:ecs/taskDefinition:TaskDefinition');
  const envOf = (re: RegExp) => {
    const t = tasks.find((x) => re.test(x.name))!;
    const [c] = JSON.parse(String(t.inputs.containerDefinitions)) as { environment: { name: string; value: string }[]; command?: string[]; image: string }[];
    return { env: Object.fromEntries(c!.environment.map((e) => [e.name, e.value])), command: c!.command, image: c!.image };
  };
  const router = envOf(/Router/);
  const workers = envOf(/Workers/);
  // The router accepts workers with the store's secret, and serves the store's certificate.
  assert.equal(router.env.LAMBDA_DISPATCH_WorkerSecret, secret);
  assert.equal(router.env.LAMBDA_DISPATCH_TlsCert, tls.cert);
  assert.equal(router.env.LAMBDA_DISPATCH_TlsKey, tls.key);
  // The workers present the same secret, pin that certificate, and find every router task by Cloud Map.
  assert.equal(workers.env.LAMBDA_DISPATCH_WorkerSecret, secret);
  assert.equal(workers.env.LAMBDA_DISPATCH_RouterCertSha256, tls.certSha256);
  assert.match(workers.env.LAMBDA_DISPATCH_RouterUrl!, /^wss:\/\/[\w.-]+:5003$/);
  assert.equal(workers.env.LAMBDA_DISPATCH_MaxConcurrentCount, '16');
  // One function: the router knows it by its Lambda name, so the workers name none (they serve it).
  assert.equal(workers.env.LAMBDA_DISPATCH_WorkerFunction, undefined);
  assert.deepEqual(workers.command, ['npx', 'lambda-dispatch', 'worker', '--module', 'app.mjs']);
  assert.equal(workers.image, 'public.ecr.aws/example/app:1');
  // What the worker's own parser makes of its environment: a valid worker command.
  const { parseWorkerArgs } = await import('../extension/cli.ts');
  const cmd = parseWorkerArgs(['worker', '--module', 'app.mjs'], workers.env);
  assert.equal(cmd.routerCertSha256, tls.certSha256);
  // Its own security group, admitted on the control port; no load balancer of its own.
  const workerService = services.find((x) => /Workers/.test(x.name))!;
  const workerSg = g.idOf('aws:ec2/securityGroup:SecurityGroup', /WorkerSecurityGroup$/);
  assert.deepEqual((workerService.inputs.networkConfiguration as { securityGroups: string[] }).securityGroups, [workerSg]);
  const rule = g.one('aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule', /ControlPortFromWorkers$/);
  assert.equal(rule.inputs.referencedSecurityGroupId, workerSg);
  assert.equal(rule.inputs.fromPort, 5003);
  assert.equal(rule.inputs.securityGroupId, g.idOf('aws:ec2/securityGroup:SecurityGroup', /RouterSecurityGroup$/));
  assert.ok(!workerService.inputs.loadBalancers || (workerService.inputs.loadBalancers as unknown[]).length === 0);
  // Scaled on its own CPU, apart from the routers'.
  const target = g.all('aws:appautoscaling/target:Target').find((t) => /Workers/.test(t.name))!;
  assert.deepEqual([target.inputs.minCapacity, target.inputs.maxCapacity], [2, 6]);
  const cpu = g.all('aws:appautoscaling/policy:Policy').find((x) => /Workers/.test(x.name) && /Cpu/i.test(x.name))!;
  assert.equal((cpu.inputs.targetTrackingScalingPolicyConfiguration as { targetValue: number }).targetValue, 70);
});

test('bring your own bundle: a function built by npm run build deploys as given', async () => {
  const { build } = await import('./build.ts');
  const built = await build({ outdir: path.join(CHECK, 'variants', 'dist') });
  const configPath = variantConfig(
    'own-bundle.config.ts',
    'my-app',
    `{
      function: { handler: 'index.handler', bundle: ${JSON.stringify(path.dirname(built.lambda))}, runtime: 'nodejs22.x', memory: 1024, timeout: 300, architecture: 'x86_64', copyFiles: [{ from: 'demo/app.ts', to: 'app-source.ts' }] },
      router: { capacity: 'spot', scaling: { min: 2, max: 4, cpuUtilization: 60 }, shutdownGraceSeconds: 110, settings: { LAMBDA_DISPATCH_MaxConcurrentCount: '20', LAMBDA_DISPATCH_ControlTls: 'true' } },
    }`,
    '{ url: d.url }',
  );
  const r = await synth('production', false, configPath);
  assert.deepEqual(r.errors, []);
  const g = new Graph(r.resources);
  const fn = g.one('aws:lambda/function:Function');
  assert.equal(fn.inputs.handler, 'index.handler');
  assert.equal(fn.inputs.runtime, 'nodejs22.x');
  assert.equal(fn.inputs.memorySize, 1024);
  assert.equal(fn.inputs.timeout, 300);
  assert.deepEqual(fn.inputs.architectures, ['x86_64']);
  const buildCall = r.rpc.find((c) => c.method === 'Runtime.Build');
  assert.equal(buildCall?.args.bundle, path.dirname(built.lambda));
  // SST resolves and checks the files itself.
  assert.deepEqual(buildCall?.args.copyFiles, [{ from: path.join(ROOT, 'demo/app.ts'), to: 'app-source.ts', isDir: false }]);
  const env = routerEnv(g);
  assert.equal(env.LAMBDA_DISPATCH_FunctionTimeout, '300');
  assert.equal(env.LAMBDA_DISPATCH_MaxConcurrentCount, '20');
  // The longest grace Fargate allows: a stop timeout of exactly 120 s.
  assertDrain(g, 110);
  assertControlTlsOn(env);
  const target = g.one('aws:appautoscaling/target:Target');
  assert.deepEqual([target.inputs.minCapacity, target.inputs.maxCapacity], [2, 4]);
  assert.equal((g.one('aws:appautoscaling/policy:Policy').inputs.targetTrackingScalingPolicyConfiguration as { targetValue: number }).targetValue, 60);
  assert.ok((g.one('aws:ecs/service:Service').inputs.capacityProviderStrategies as { capacityProvider: string }[]).some((s) => s.capacityProvider === 'FARGATE_SPOT'));
});

test('the check leaves the work tree as it found it (all it writes is under .sst/)', async () => {
  await Promise.allSettled(synths.values());
  assert.deepEqual(treeSnapshot(), before_);
});
