// Container workers in the stack: an ECS service running the same app as permanent capacity that
// registers with the routers (`lambda-dispatch worker`), scaled on its own CPU; the router fills
// them first and invokes Lambda only for demand beyond them. What the two sides share comes from
// SST's secret store: the worker secret, and the control port's certificate and key, which give
// every router task the same certificate so that the workers can pin it.
//   npx sst secret set <Name>WorkerSecret "$(openssl rand -hex 24)"
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=lambda-dispatch -keyout key.pem -out cert.pem
//   npx sst secret set <Name>RouterTlsCert -- "$(cat cert.pem)"; npx sst secret set <Name>RouterTlsKey -- "$(cat key.pem)"

import { createHash, X509Certificate } from 'node:crypto';
import type { Cluster, Service, WorkersOptions } from './args.ts';
import { ROUTER_CONTROL_PORT } from './settings.ts';

type SecurityGroup = InstanceType<typeof aws.ec2.SecurityGroup>;

export interface WorkerSecrets {
  workerSecret: InstanceType<typeof sst.Secret>;
  tlsCert: InstanceType<typeof sst.Secret>;
  tlsKey: InstanceType<typeof sst.Secret>;
}

/** The secrets both sides read; declared once per component, set with `sst secret set`. */
export function workerSecrets(name: string): WorkerSecrets {
  return {
    workerSecret: new sst.Secret(`${name}WorkerSecret`),
    tlsCert: new sst.Secret(`${name}RouterTlsCert`),
    tlsKey: new sst.Secret(`${name}RouterTlsKey`),
  };
}

/** What the router's task is told so that workers can register: the secret and the certificate they pin. */
export function routerWorkerEnvironment(s: WorkerSecrets): Record<string, $util.Input<string>> {
  return {
    LAMBDA_DISPATCH_WorkerSecret: s.workerSecret.value,
    LAMBDA_DISPATCH_TlsCert: s.tlsCert.value,
    LAMBDA_DISPATCH_TlsKey: s.tlsKey.value,
  };
}

/** The SHA-256 of a PEM certificate's DER bytes, as the worker pins it (64 hex digits). */
export function certificatePin(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem.replace(/\\n/g, '\n')).raw).digest('hex');
}

export const DEFAULT_WORKER_SCALING = { min: 1, max: 4, cpuUtilization: 60 };

export function createWorkers(
  name: string,
  o: WorkersOptions,
  ctx: { cluster: Cluster; router: Service; routerSecurityGroup: SecurityGroup; vpcId: $util.Input<string>; secrets: WorkerSecrets },
  parent: { parent: $util.ComponentResource },
): { service: Service; securityGroup: SecurityGroup } {
  const securityGroup = new aws.ec2.SecurityGroup(
    `${name}WorkerSecurityGroup`,
    {
      vpcId: ctx.vpcId,
      description: `${name} container workers`,
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
    },
    parent,
  );
  new aws.vpc.SecurityGroupIngressRule(
    `${name}ControlPortFromWorkers`,
    {
      securityGroupId: ctx.routerSecurityGroup.id,
      referencedSecurityGroupId: securityGroup.id,
      ipProtocol: 'tcp',
      fromPort: ROUTER_CONTROL_PORT,
      toPort: ROUTER_CONTROL_PORT,
      description: 'lambda-dispatch control channel: container workers registering',
    },
    parent,
  );
  const scaling = { ...DEFAULT_WORKER_SCALING, ...o.scaling };
  const service = new sst.aws.Service(
    `${name}Workers`,
    {
      cluster: ctx.cluster,
      image: o.image,
      ...(o.command ? { command: o.command } : {}),
      cpu: o.cpu ?? '0.5 vCPU',
      memory: o.memory ?? '1 GB',
      architecture: o.architecture ?? 'arm64',
      environment: {
        // Cloud Map's name of the router service: every router task, so that channels spread over them.
        LAMBDA_DISPATCH_RouterUrl: $interpolate`wss://${ctx.router.service}:${ROUTER_CONTROL_PORT}`,
        LAMBDA_DISPATCH_RouterCertSha256: ctx.secrets.tlsCert.value.apply(certificatePin),
        LAMBDA_DISPATCH_WorkerSecret: ctx.secrets.workerSecret.value,
        ...(o.maxConcurrent !== undefined ? { LAMBDA_DISPATCH_MaxConcurrentCount: String(o.maxConcurrent) } : {}),
        ...(o.function !== undefined ? { LAMBDA_DISPATCH_WorkerFunction: o.function } : {}),
        ...o.environment,
      },
      ...(o.link ? { link: o.link } : {}),
      // Its own CPU, its own target: Lambda takes what it cannot.
      scaling: { min: scaling.min, max: scaling.max, cpuUtilization: scaling.cpuUtilization, memoryUtilization: false },
      transform: {
        // The workers' own group (the cluster's is the router's): the control port admits it by name.
        service: (s: aws.ecs.ServiceArgs) => {
          const given = $output(s.networkConfiguration);
          s.networkConfiguration = {
            subnets: given.apply((n) => n!.subnets),
            assignPublicIp: given.apply((n) => n!.assignPublicIp ?? false),
            securityGroups: [securityGroup.id],
          };
          return undefined;
        },
      },
    },
    parent,
  );
  return { service, securityGroup };
}
