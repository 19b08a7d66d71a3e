// The live dashboard on the admin listener (placeholder until the page lands).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouterStatus } from '../admin.ts';

export interface DashboardSource {
  status(): Promise<RouterStatus>;
  /** The request-duration histogram's cumulative buckets (seconds). */
  durations(): Promise<{ le: number[]; counts: number[]; count: number; sum: number }>;
}

export function dashboardPage(_path: string, _src: DashboardSource): ((req: IncomingMessage, res: ServerResponse) => void) | undefined {
  return undefined;
}
