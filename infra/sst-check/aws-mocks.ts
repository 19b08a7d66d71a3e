// What AWS would answer, for Pulumi's runtime mocks: the state of each new resource (its inputs
// plus the attributes AWS assigns: ids, ARNs, DNS names) and the data-source lookups SST's
// components make. An unknown lookup fails loudly, so the check never passes on a silent undefined.

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

export interface NewResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom?: boolean;
}

export function resourceState(r: NewResource): { id: string; state: Record<string, unknown> } {
  const id = `${r.name}-id`;
  const [pkg = '', mod = ''] = r.type.split(':');
  const service = mod.split('/')[0] ?? mod;
  const arn = `arn:aws:${service}:${REGION}:${ACCOUNT}:${r.name}`;
  const extra: Record<string, unknown> = { arn, id };
  switch (r.type) {
    case 'aws:lambda/function:Function': {
      const name = (r.inputs.name as string | undefined) ?? r.name;
      Object.assign(extra, {
        name,
        arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
        invokeArn: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}/invocations`,
        qualifiedArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}:$LATEST`,
        version: '$LATEST',
      });
      break;
    }
    case 'aws:iam/role:Role':
      Object.assign(extra, { name: r.inputs.name ?? r.name, arn: `arn:aws:iam::${ACCOUNT}:role/${r.name}` });
      break;
    case 'aws:ec2/vpc:Vpc':
      Object.assign(extra, { cidrBlock: r.inputs.cidrBlock ?? '10.0.0.0/16', defaultSecurityGroupId: `${r.name}-default-sg` });
      break;
    case 'aws:lb/loadBalancer:LoadBalancer':
      Object.assign(extra, { dnsName: `${r.name}.${REGION}.elb.amazonaws.com`, zoneId: 'Z35SXDOTRQ7X7K' });
      break;
    case 'aws:ecs/service:Service':
    case 'aws:ecs/cluster:Cluster':
    case 'aws:cloudwatch/logGroup:LogGroup':
      Object.assign(extra, { name: r.inputs.name ?? r.name });
      break;
    case 'aws:ecr/repository:Repository':
      Object.assign(extra, { repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${r.name}` });
      break;
    case 'aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace':
      Object.assign(extra, { name: r.inputs.name ?? `${r.name}.local`, hostedZone: 'Z0000000000' });
      break;
    case 'docker-build:index:Image':
      Object.assign(extra, { digest: 'sha256:' + '0'.repeat(64), ref: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/sst-asset:${r.name}` });
      break;
    case 'random:index/randomBytes:RandomBytes':
      Object.assign(extra, { base64: Buffer.alloc(Number(r.inputs.length ?? 32), 7).toString('base64'), hex: '07'.repeat(Number(r.inputs.length ?? 32)) });
      break;
    case 'random:index/randomString:RandomString':
    case 'random:index/randomPassword:RandomPassword':
      Object.assign(extra, { result: 'x'.repeat(Number(r.inputs.length ?? 16)) });
      break;
    default:
      if (pkg !== 'aws' && pkg !== 'random' && pkg !== 'tls' && pkg !== 'docker-build' && pkg !== 'command') delete extra.arn;
  }
  return { id, state: { ...r.inputs, ...extra } };
}

interface Statement {
  effect?: string;
  actions?: string[];
  resources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  conditions?: unknown;
}

/** Data sources (Pulumi "invokes") by token. */
export function invoke(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case 'aws:index/getRegion:getRegion':
      return { id: REGION, name: REGION, region: REGION, description: 'US East (N. Virginia)', endpoint: `ec2.${REGION}.amazonaws.com` };
    case 'aws:index/getCallerIdentity:getCallerIdentity':
      return { id: ACCOUNT, accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/check`, userId: 'AIDACHECK' };
    case 'aws:index/getPartition:getPartition':
      return { id: 'aws', partition: 'aws', dnsSuffix: 'amazonaws.com', reverseDnsPrefix: 'com.amazonaws' };
    case 'aws:index/getAvailabilityZones:getAvailabilityZones':
      return { id: REGION, names: ['us-east-1a', 'us-east-1b', 'us-east-1c'], zoneIds: ['use1-az1', 'use1-az2', 'use1-az4'] };
    case 'aws:ec2/getAmi:getAmi':
      return { id: 'ami-0123456789abcdef0', architecture: 'arm64', name: 'fck-nat-al2023' };
    case 'aws:ecr/getAuthorizationToken:getAuthorizationToken':
      return {
        id: ACCOUNT,
        proxyEndpoint: `https://${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`,
        userName: 'AWS',
        password: 'check',
        authorizationToken: Buffer.from('AWS:check').toString('base64'),
      };
    case 'aws:iam/getPolicyDocument:getPolicyDocument': {
      // The JSON AWS's provider would render, so that the roles carry a real policy document.
      const statements = (inputs.statements as Statement[] | undefined) ?? [];
      const doc = {
        Version: '2012-10-17',
        Statement: statements.map((s) => ({
          Effect: s.effect ?? 'Allow',
          Action: s.actions,
          Resource: s.resources,
          ...(s.principals ? { Principal: Object.fromEntries(s.principals.map((p) => [p.type, p.identifiers])) } : {}),
          ...(s.conditions ? { Condition: s.conditions } : {}),
        })),
      };
      // The provider echoes its inputs too; SST reads `statements` back from the result.
      return { ...inputs, id: 'policy', json: JSON.stringify(doc), minifiedJson: JSON.stringify(doc) };
    }
    default:
      throw new Error(`infra check: no mock for the data source ${token} (add one to infra/sst-check/aws-mocks.ts)`);
  }
}
