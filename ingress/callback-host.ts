// The address the function calls back: LAMBDA_DISPATCH_RouterCallbackHost, else the variable named
// by LAMBDA_DISPATCH_EnvVarForCallbackIp (K8S_POD_IP by default), else — on ECS — the task's own
// IPv4 from the task metadata endpoint v4, else loopback. Behind a load balancer every task must
// hand out its own address: the callbacks of an instance belong to the task that invoked it.
// (core/config.ts resolves the first two synchronously; this adds the ECS step, which needs I/O.)

import { configuredCallbackHost, type CallbackHostSource } from '../core/config.ts';

export interface ResolveOptions {
  fetch?: typeof fetch;
  /** Per request. Default 1000 ms. */
  timeoutMs?: number;
  /** The agent answers within milliseconds once the task runs; a few tries cover a slow start. Default 3. */
  attempts?: number;
  log?: (line: string) => void;
}

type Env = Record<string, string | undefined>;

export async function resolveCallbackHost(env: Env, o: ResolveOptions = {}): Promise<{ host: string; source: CallbackHostSource }> {
  const configured = configuredCallbackHost(env);
  if (configured) return configured;
  const metadataUri = env.ECS_CONTAINER_METADATA_URI_V4?.trim();
  if (metadataUri) {
    const ip = await ecsTaskIp(metadataUri, o);
    if (ip) return { host: ip, source: 'ecs-metadata' };
    o.log?.(`ECS task metadata at ${metadataUri} gave no IPv4 address; the function will be told 127.0.0.1 and cannot call back`);
  }
  return { host: '127.0.0.1', source: 'loopback' };
}

interface ContainerMetadata {
  Networks?: { IPv4Addresses?: string[] }[];
}

/** The container endpoint lists the task's networks (awsvpc: the task's ENI); the task endpoint lists them per container. */
async function ecsTaskIp(uri: string, o: ResolveOptions): Promise<string | undefined> {
  const doFetch = o.fetch ?? fetch;
  const attempts = o.attempts ?? 3;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    try {
      const container = (await get(doFetch, uri, o.timeoutMs)) as ContainerMetadata;
      const ip = firstIpv4(container.Networks);
      if (ip) return ip;
      const task = (await get(doFetch, `${uri}/task`, o.timeoutMs)) as { Containers?: ContainerMetadata[] };
      for (const c of task.Containers ?? []) {
        const fromTask = firstIpv4(c.Networks);
        if (fromTask) return fromTask;
      }
      return undefined;
    } catch (err) {
      o.log?.(`ECS task metadata: ${err instanceof Error ? err.message : String(err)} (attempt ${attempt + 1} of ${attempts})`);
    }
  }
  return undefined;
}

async function get(doFetch: typeof fetch, url: string, timeoutMs = 1000): Promise<unknown> {
  const res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return res.json();
}

function firstIpv4(networks: ContainerMetadata['Networks']): string | undefined {
  for (const n of networks ?? []) {
    const ip = n.IPv4Addresses?.find((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a));
    if (ip) return ip;
  }
  return undefined;
}
