// The settings of each function behind a router with several (LAMBDA_DISPATCH_Routes): the
// router's own settings with the function's name and its per-function overrides on top, read by
// the same loader and checked by the same readers as the router's, so that a bad override stops
// the start naming the function. Only what belongs to one function's pool may differ; the ports,
// TLS, rings and logging are the router's.

import { SettingError, type Env } from '../settings/env.ts';
import { RoutesError, RouteTable, type RoutesSpec } from './route-table.ts';

export const ROUTES_SETTING = 'LAMBDA_DISPATCH_Routes';

export interface RoutedFunctions<C> {
  spec: RoutesSpec;
  /** One per function, in the declaration's order (the index a ROUTE record carries). */
  functions: C[];
}

/** Unset: one function (LAMBDA_DISPATCH_FunctionName). Set: the table, checked, and each function's settings. */
export function loadRoutedFunctions<C>(env: Env, load: (env: Env) => C): RoutedFunctions<C> | undefined {
  const raw = env[ROUTES_SETTING];
  if (raw === undefined || raw.trim() === '') return undefined;
  let table: RouteTable;
  try {
    table = RouteTable.parse(raw, ROUTES_SETTING);
  } catch (err) {
    if (err instanceof RoutesError) throw new SettingError(ROUTES_SETTING, '(JSON)', 'a routes declaration', err.message);
    throw err;
  }
  const spec: RoutesSpec = JSON.parse(raw) as RoutesSpec;
  const functions = table.functions.map((f, i) => {
    const own: Record<string, string> = { [ROUTES_SETTING]: '', LAMBDA_DISPATCH_FunctionName: f.functionName };
    for (const [key, value] of Object.entries(f.settings ?? {})) own[`LAMBDA_DISPATCH_${key}`] = String(value);
    try {
      return load({ ...env, ...own });
    } catch (err) {
      if (!(err instanceof SettingError)) throw err;
      throw new SettingError(ROUTES_SETTING, err.value, err.expected, `${ROUTES_SETTING}: functions[${i}] ("${f.name}"): ${err.message}`);
    }
  });
  return { spec, functions };
}
