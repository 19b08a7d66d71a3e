// Several functions behind one router: which function a request goes to. Declared once (the
// LAMBDA_DISPATCH_Routes setting's JSON, or the SST component's list), checked at start, and
// resolved per request from what ingress has already parsed (host, path, one header). Pure: no
// I/O and no state, so ingress can call it on the request path and tests can table it.
//
// The rules, in order:
//   1. The selection header (`header.name`), when the request has it, decides alone: its value
//      must be on the allow-list, which maps it to a function; any other value reaches no
//      function (404), whatever the host or path. A client cannot name a function that is not
//      listed there, however the functions are named.
//   2. Otherwise the first route whose host and path prefix both match (an absent one matches
//      anything). Hosts compare without case and port; `*.example.com` matches one or more labels
//      in front. A path prefix matches whole segments: `/api` takes `/api`, `/api/x` and
//      `/api?q`, never `/apix`.
//   3. Nothing matched: 404 from the router (LD_NO_ROUTE), never a guess.

/** A function's name in the routes (and in a worker's x-lambda-dispatch-function): letters, digits, _ and -, 1–64. */
export const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A declaration that cannot work; the message names the setting and every problem. */
export class RoutesError extends Error {
  override name = 'RoutesError';
}

/** Settings (LAMBDA_DISPATCH_ + key) a function may set for itself; the rest are the router's. */
export const PER_FUNCTION_SETTINGS = [
  'MaxConcurrentCount',
  'MinConcurrentCount',
  'ChannelCount',
  'InstanceCountMultiplier',
  'ScalingAlgorithm',
  'IncomingRequestTimeout',
  'MaxPendingRequests',
  'MinInstances',
  'MaxInstances',
  'FunctionTimeout',
  'ScaleOutIntervalMs',
  'ScaleInIntervalMs',
  'IdleReleaseMs',
  'ReplacementWaitMs',
] as const;

/** One function behind the router, with the settings it does not share with the others. */
export interface FunctionSpec {
  /** The name the routes use. */
  name: string;
  /** What Lambda is invoked: a function name or ARN. */
  functionName: string;
  /** Its own LAMBDA_DISPATCH_* settings without the prefix (e.g. `MaxConcurrentCount`), over the router's. */
  settings?: Record<string, string | number | boolean>;
}

export interface RouteSpec {
  function: string;
  host?: string;
  pathPrefix?: string;
}

export interface RoutesSpec {
  functions: FunctionSpec[];
  routes: RouteSpec[];
  /** A header that selects a function by value; only the values listed reach a function. */
  header?: { name: string; allow: Record<string, string> };
}

/** What a request asks: the Host header (or :authority), the request target, and the selection header's value. */
export interface RouteQuery {
  host: string | undefined;
  target: string;
  header: string | undefined;
}

export type RouteResult =
  | { kind: 'function'; index: number; name: string }
  | { kind: 'none'; why: 'no route matches' | 'header value not allowed' };

interface CompiledRoute {
  index: number;
  host: { exact: string } | { suffix: string } | null;
  prefix: string | null;
}

export class RouteTable {
  readonly functions: readonly FunctionSpec[];
  /** The selection header's name, lower-case; null when no header selects. */
  readonly headerName: string | null;
  private readonly allow: ReadonlyMap<string, number>;
  private readonly routes: readonly CompiledRoute[];

  private constructor(functions: FunctionSpec[], routes: CompiledRoute[], headerName: string | null, allow: Map<string, number>) {
    this.functions = functions;
    this.routes = routes;
    this.headerName = headerName;
    this.allow = allow;
  }

  /** Checks a declaration; every problem is reported at once, each naming where it is. */
  static compile(spec: unknown, setting = 'LAMBDA_DISPATCH_Routes'): RouteTable {
    const problems: string[] = [];
    const s = (isObject(spec) ? spec : {}) as Partial<RoutesSpec>;
    if (!isObject(spec)) problems.push('must be an object with "functions" and "routes"');
    const functions = Array.isArray(s.functions) ? s.functions : [];
    if (functions.length === 0) problems.push('"functions" must list at least one function');
    const index = new Map<string, number>();
    functions.forEach((f, i) => {
      if (!isObject(f) || typeof f.name !== 'string' || !FUNCTION_NAME.test(f.name)) {
        problems.push(`functions[${i}].name must be 1–64 letters, digits, - or _`);
        return;
      }
      if (index.has(f.name)) problems.push(`functions[${i}].name "${f.name}" is declared twice`);
      if (typeof f.functionName !== 'string' || f.functionName.trim() === '') problems.push(`functions[${i}].functionName must be a function name or ARN`);
      if (f.settings !== undefined && !isObject(f.settings)) problems.push(`functions[${i}].settings must be an object`);
      for (const key of Object.keys(isObject(f.settings) ? f.settings : {})) {
        if (!(PER_FUNCTION_SETTINGS as readonly string[]).includes(key)) problems.push(`functions[${i}].settings.${key} is not a per-function setting (${PER_FUNCTION_SETTINGS.join(', ')})`);
      }
      index.set(f.name, i);
    });
    const known = (name: unknown, where: string): number => {
      const i = typeof name === 'string' ? index.get(name) : undefined;
      if (i === undefined) problems.push(`${where} names ${JSON.stringify(name)}, which is not in "functions"`);
      return i ?? -1;
    };
    const routes: CompiledRoute[] = [];
    (Array.isArray(s.routes) ? s.routes : []).forEach((r, i) => {
      const where = `routes[${i}]`;
      if (!isObject(r)) return void problems.push(`${where} must be an object`);
      const fn = known(r.function, `${where}.function`);
      let host: CompiledRoute['host'] = null;
      if (r.host !== undefined) {
        const h = typeof r.host === 'string' ? r.host.trim().toLowerCase() : '';
        if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(h)) problems.push(`${where}.host must be a host name, optionally starting with "*.", got ${JSON.stringify(r.host)}`);
        host = h.startsWith('*.') ? { suffix: h.slice(1) } : { exact: h };
      }
      let prefix: string | null = null;
      if (r.pathPrefix !== undefined) {
        if (typeof r.pathPrefix !== 'string' || !r.pathPrefix.startsWith('/')) problems.push(`${where}.pathPrefix must start with "/", got ${JSON.stringify(r.pathPrefix)}`);
        else prefix = r.pathPrefix.length > 1 ? r.pathPrefix.replace(/\/+$/, '') : null;
      }
      routes.push({ index: fn, host, prefix });
    });
    let headerName: string | null = null;
    const allow = new Map<string, number>();
    if (s.header !== undefined) {
      const h = s.header as Partial<NonNullable<RoutesSpec['header']>>;
      if (!isObject(h) || typeof h.name !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h.name)) problems.push('header.name must be a header name');
      else headerName = h.name.toLowerCase();
      if (!isObject(h.allow) || Object.keys(h.allow).length === 0) problems.push('header.allow must map at least one header value to a function');
      else for (const [value, fn] of Object.entries(h.allow)) allow.set(value, known(fn, `header.allow[${JSON.stringify(value)}]`));
    }
    if (routes.length === 0 && allow.size === 0) problems.push('no route and no allowed header value: nothing could reach a function');
    if (problems.length > 0) {
      throw new RoutesError(`${setting}: ${problems.join('; ')}`);
    }
    return new RouteTable(functions, routes, headerName, allow);
  }

  /** Parses the setting's JSON text, then compile(). */
  static parse(json: string, setting = 'LAMBDA_DISPATCH_Routes'): RouteTable {
    let spec: unknown;
    try {
      spec = JSON.parse(json);
    } catch (err) {
      throw new RoutesError(`${setting} is not JSON: ${(err as Error).message}`);
    }
    return RouteTable.compile(spec, setting);
  }

  resolve(q: RouteQuery): RouteResult {
    if (this.headerName !== null && q.header !== undefined) {
      const i = this.allow.get(q.header.trim());
      return i === undefined ? { kind: 'none', why: 'header value not allowed' } : this.found(i);
    }
    const host = hostOf(q.host);
    const path = pathOf(q.target);
    for (const r of this.routes) {
      if (r.host !== null && !('exact' in r.host ? host === r.host.exact : host.endsWith(r.host.suffix) && host.length > r.host.suffix.length)) continue;
      if (r.prefix !== null && !(path === r.prefix || path.startsWith(`${r.prefix}/`))) continue;
      return this.found(r.index);
    }
    return { kind: 'none', why: 'no route matches' };
  }

  private found(index: number): RouteResult {
    return { kind: 'function', index, name: this.functions[index]!.name };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Lower-case, without the port (an IPv6 literal keeps its brackets). */
function hostOf(h: string | undefined): string {
  if (h === undefined) return '';
  const v = h.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(0, v.indexOf(']') + 1);
  const colon = v.indexOf(':');
  return colon >= 0 ? v.slice(0, colon) : v;
}

/** The path of a request target, without query or fragment; an absolute-form target loses its origin. */
function pathOf(target: string): string {
  let t = target;
  if (!t.startsWith('/')) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(t);
    t = m ? t.slice(m[0].length) || '/' : t;
  }
  const end = t.search(/[?#]/);
  return end >= 0 ? t.slice(0, end) : t;
}
