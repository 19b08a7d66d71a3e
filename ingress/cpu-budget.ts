// How many CPUs this process may use: the CPU affinity (os.availableParallelism()) and the cgroup
// CPU quota, whichever is smaller. A 0.5 vCPU Fargate task sees more CPUs than its quota lets it
// use, and not every Node's availableParallelism() reads the quota.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** CPUs a cgroup quota allows: `cpu.max` of cgroup v2 ("max 100000" or "50000 100000"); undefined without a limit. */
export function quotaCpus(cpuMax: string | undefined): number | undefined {
  if (cpuMax === undefined) return undefined;
  const [quota, period] = cpuMax.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period ?? 100_000);
  return q > 0 && p > 0 ? q / p : undefined;
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The CPUs this process may use, possibly fractional (0.5 on a half-vCPU task). */
export function cpuBudget(): number {
  const quota = quotaCpus(readOrUndefined('/sys/fs/cgroup/cpu.max'));
  const cpus = availableParallelism();
  return quota === undefined ? cpus : Math.min(cpus, quota);
}
