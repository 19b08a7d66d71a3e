// What serving a million requests costs on Lambda, from a local Lambda's billing ledger priced at
// us-east-1 list prices (PRICES below), and an estimate of the router's own Fargate task.

export const PRICES = {
  /** $ per GB-second of Lambda duration. */
  x86GbSecond: 0.0000166667,
  arm64GbSecond: 0.0000133334,
  /** $ per million Lambda invocations. */
  perMillionInvocations: 0.2,
  /** Fargate (Linux, us-east-1) $ per vCPU-hour and per GB-hour: assumed list prices. */
  fargateX86VcpuHour: 0.04048,
  fargateX86GbHour: 0.004445,
  fargateArm64VcpuHour: 0.03238,
  fargateArm64GbHour: 0.00356,
} as const;

export interface LedgerFigures {
  /** Lambda invocations billed (the router's: one per instance; direct: one per request). */
  invocations: number;
  gbSeconds: number;
  /** HTTP requests the load generator had answered over the same period. */
  requests: number;
}

export interface CostPerMillion {
  gbSecondsPerMillion: number;
  invocationsPerMillion: number;
  /** $ per million requests: duration plus request charges. */
  x86Usd: number;
  arm64Usd: number;
}

export function costPerMillion(f: LedgerFigures): CostPerMillion {
  if (f.requests <= 0) return { gbSecondsPerMillion: 0, invocationsPerMillion: 0, x86Usd: 0, arm64Usd: 0 };
  const scale = 1e6 / f.requests;
  const gbSecondsPerMillion = f.gbSeconds * scale;
  const invocationsPerMillion = f.invocations * scale;
  const requestCharge = (invocationsPerMillion / 1e6) * PRICES.perMillionInvocations;
  return {
    gbSecondsPerMillion,
    invocationsPerMillion,
    x86Usd: gbSecondsPerMillion * PRICES.x86GbSecond + requestCharge,
    arm64Usd: gbSecondsPerMillion * PRICES.arm64GbSecond + requestCharge,
  };
}

export interface FargateEstimate {
  vcpu: number;
  memoryGb: number;
  x86UsdPerHour: number;
  arm64UsdPerHour: number;
  /** At `requestsPerSecond` sustained for the hour, $ per million requests (x86). */
  x86UsdPerMillionAtRate: number;
  requestsPerSecond: number;
}

/** The router's always-on task: a fixed hourly price, spread over the requests it serves. */
export function fargateEstimate(requestsPerSecond: number, vcpu = 0.25, memoryGb = 0.5): FargateEstimate {
  const x86UsdPerHour = vcpu * PRICES.fargateX86VcpuHour + memoryGb * PRICES.fargateX86GbHour;
  const arm64UsdPerHour = vcpu * PRICES.fargateArm64VcpuHour + memoryGb * PRICES.fargateArm64GbHour;
  const perHour = requestsPerSecond * 3600;
  return {
    vcpu,
    memoryGb,
    x86UsdPerHour,
    arm64UsdPerHour,
    x86UsdPerMillionAtRate: perHour > 0 ? (x86UsdPerHour / perHour) * 1e6 : 0,
    requestsPerSecond,
  };
}
