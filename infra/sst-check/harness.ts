// Runs inside the synthesized program (see program.ts): Pulumi's runtime mocks stand in for AWS,
// rpc-standin.ts for the SST CLI, then SST's own run() executes sst.config.ts with the real
// components, and every resource that got registered is written to a JSON file for the test.
// Pulumi's module is passed in by the entry so that this file needs no types from .sst/platform.

import { writeFileSync } from 'node:fs';
import * as esbuild from 'esbuild';
import { invoke, REGION, resourceState, type NewResource } from './aws-mocks.ts';
import { startRpcStandIn, type RpcCall } from './rpc-standin.ts';

interface PulumiOutput {
  apply<U>(f: (v: unknown) => U): unknown;
}

/** The parts of @pulumi/pulumi this file uses. */
export interface PulumiModule {
  output(v: unknown): PulumiOutput;
  runtime: {
    setMocks(
      mocks: {
        newResource(a: NewResource & { provider?: string; id?: string }): { id: string; state: Record<string, unknown> };
        call(a: { token: string; inputs: Record<string, unknown> }): Record<string, unknown>;
      },
      project?: string,
      stack?: string,
      preview?: boolean,
    ): Promise<void>;
    getMonitor(): unknown;
    runInPulumiStack(init: () => Promise<unknown>): Promise<unknown>;
    disconnect(): Promise<void>;
  };
}

interface SstConfig {
  app(input: { stage: string }): Record<string, unknown> | Promise<Record<string, unknown>>;
  run(): Promise<Record<string, unknown> | void>;
}

export interface SynthResource {
  urn: string;
  type: string;
  name: string;
  /** Types of the parents, outermost first (from the URN). */
  parents: string[];
  custom: boolean;
  id: string | null;
  /** What the program passed (custom resources) or registered as outputs (components). */
  inputs: Record<string, unknown>;
  /** What the mocked provider answered: the inputs plus ids, ARNs, DNS names (custom resources). */
  state: Record<string, unknown>;
}

export interface SynthResult {
  app: Record<string, unknown>;
  resources: SynthResource[];
  outputs: Record<string, unknown>;
  rpc: RpcCall[];
  errors: string[];
}

declare global {
  // The value SST's CLI defines as `$app`; program.ts points the define at this.
  var __sstCheckApp: Record<string, unknown> | undefined;
}

const SECRET_SIG = '4dabf18193072939515e22adb298388d';

export async function synthesize(o: {
  pulumi: PulumiModule;
  config: SstConfig;
  run: (program: () => Promise<unknown>) => Promise<Record<string, unknown>>;
  stage: string;
  root: string;
  work: string;
  resultFile: string;
}): Promise<void> {
  const errors: string[] = [];
  const note = (err: unknown) => errors.push(err instanceof Error ? err.message : String(err));
  // SST's components throw from inside Output callbacks; Pulumi surfaces those as rejections.
  process.on('unhandledRejection', note);
  process.on('uncaughtException', note);

  const appConfig = await o.config.app({ stage: o.stage });
  // What the CLI puts in `$app` (pkg/project: App, with its defaults).
  const app: Record<string, unknown> = {
    removal: 'retain',
    protect: false,
    providers: {},
    ...appConfig,
    stage: o.stage,
  };
  globalThis.__sstCheckApp = app;

  const rpc = await startRpcStandIn({ root: o.root, work: o.work, bundler: esbuild });
  process.env.SST_SERVER = rpc.url;
  process.env.SST_AWS_REGION = REGION;

  const inputs = new Map<string, Record<string, unknown>>();
  await o.pulumi.runtime.setMocks(
    {
      newResource: (r) => {
        inputs.set(`${r.type}::${r.name}`, r.inputs);
        return resourceState(r);
      },
      call: (c) => invoke(c.token, c.inputs),
    },
    String(app.name),
    o.stage,
    false,
  );
  const monitor = o.pulumi.runtime.getMonitor() as { resources: Map<string, { urn: string; id: string | null; state: unknown }> };

  let outputs: Record<string, unknown> = {};
  try {
    // As Pulumi's language host does: the root Stack resource first, SST's transformations need it.
    let raw: unknown;
    await o.pulumi.runtime.runInPulumiStack(async () => (raw = await o.run(o.config.run as () => Promise<unknown>)));
    outputs = await settle(o.pulumi, raw);
  } catch (err) {
    note(err);
  }
  await drain(o.pulumi, errors);
  await rpc.close();

  const resources: SynthResource[] = [];
  for (const { urn, id, state } of monitor.resources.values()) {
    const [, , qualifiedType = '', name = ''] = urn.split('::');
    const types = qualifiedType.split('$');
    const type = types[types.length - 1] ?? '';
    const recorded = inputs.get(`${type}::${name}`);
    const custom = recorded !== undefined && !isComponentType(type);
    resources.push({
      urn,
      type,
      name,
      parents: types.slice(0, -1),
      custom,
      id,
      inputs: unwrap(custom ? recorded : toJavaScript(state)) as Record<string, unknown>,
      state: unwrap(toJavaScript(state)) as Record<string, unknown>,
    });
  }
  const result: SynthResult = { app, resources, outputs: unwrap(outputs) as Record<string, unknown>, rpc: rpc.calls, errors: [...new Set(errors)] };
  writeFileSync(o.resultFile, JSON.stringify(result, null, 1));
}

/**
 * Waits for Pulumi's outstanding registrations. When a component throws inside an Output callback,
 * the resources that depended on it never register and Pulumi would wait for ever: once errors
 * have been reported and a second passes without a new one, the program has failed and that is
 * the answer. Bounded at 30 s in any case.
 */
async function drain(pulumi: PulumiModule, errors: string[]): Promise<void> {
  let settled = false;
  const done = pulumi.runtime.disconnect().then(
    () => void (settled = true),
    (err: unknown) => {
      settled = true;
      errors.push(err instanceof Error ? err.message : String(err));
    },
  );
  const deadline = Date.now() + 30_000;
  let seen = -1;
  let quietSince = Date.now();
  while (!settled) {
    await Promise.race([done, new Promise((r) => setTimeout(r, 100))]);
    if (errors.length !== seen) {
      seen = errors.length;
      quietSince = Date.now();
    }
    if (settled) return;
    if (errors.length > 0 && Date.now() - quietSince > 1000) return;
    if (Date.now() > deadline) {
      errors.push('Pulumi registrations still pending after 30 s');
      return;
    }
  }
}

/** Components are registered with the types their authors chose: `sst:aws:Vpc`, `lambda-dispatch:aws:…`. */
function isComponentType(type: string): boolean {
  const [pkg] = type.split(':');
  return pkg === 'sst' || pkg === 'lambda-dispatch' || type.startsWith('pulumi:');
}

/** Resolves every Output in the stack's outputs; bounded, so an output that never resolves cannot hang the check. */
function settle(pulumi: PulumiModule, value: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('stack outputs did not resolve within 30 s')), 30_000);
    pulumi.output(value).apply((v) => {
      clearTimeout(timer);
      resolve((v ?? {}) as Record<string, unknown>);
      return v;
    });
  });
}

/** A registered component's outputs arrive as a protobuf Struct. */
function toJavaScript(state: unknown): unknown {
  const s = state as { toJavaScript?: () => unknown } | undefined;
  return typeof s?.toJavaScript === 'function' ? s.toJavaScript() : state;
}

/** Drops Pulumi's wire markers: secrets become their value, resource references their URN. */
function unwrap(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] === '1b47061264138c4ac30d75fd1eb44270') return unwrap(o.value);
    if (o[SECRET_SIG] === '5cf8f73096256a8f31e491e813e4eb8e') return o.urn;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrap(x)]));
  }
  return v;
}
