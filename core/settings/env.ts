// The one set of setting readers that the router, the extension, the worker CLI and the local
// Lambda share. Each used to parse its own variables with its own rules (one accepted "1e3", one
// did not; one threw Error, one RangeError), so the same value could mean different things in
// different places. Settings are read once at start and a bad value stops the start with a
// SettingError that names the variable or option, shows the bad value and says what would do.

import { isIP } from 'node:net';

/** Environment variables, or anything shaped like them (tests pass plain objects). */
export type Env = Readonly<Record<string, string | undefined>>;

export const SETTING_INVALID = 'ERR_SETTING_INVALID';

/**
 * A RangeError so that callers who caught the extension's old RangeErrors still catch these; the
 * stable `code` is what to test for.
 */
export class SettingError extends RangeError {
  override name = 'SettingError';
  readonly code = SETTING_INVALID;
  /** The variable, flag or option, as the user wrote it. */
  readonly setting: string;
  /** What was given (secrets are never echoed: this is then a description of them). */
  readonly value: unknown;
  /** What would have been accepted, in words. */
  readonly expected: string;

  constructor(setting: string, value: unknown, expected: string, message?: string) {
    super(message ?? `${setting} must be ${expected}, got ${show(value)}`);
    this.setting = setting;
    this.value = value;
    this.expected = expected;
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Turns the text of a variable or flag into a value, or throws SettingError naming `name`.
 * Readers that can also check a value given in code (a number option) carry `check`.
 */
export interface Reader<T> {
  (raw: string, name: string): T;
  /** Validates a value that arrived already typed (a code option); absent for text-only readers. */
  readonly check?: (value: unknown, name: string) => T;
  /** Hands blank text to the reader instead of treating it as unset: a secret's spaces matter. */
  readonly verbatim?: boolean;
  readonly expected: string;
}

/** A reader that can also vouch for a value given in code, so code options and variables share bounds. */
export type Checker<T> = Reader<T> & { readonly check: (value: unknown, name: string) => T };

function reader<T>(expected: string, parse: (raw: string, name: string) => T, extra: { check?: (value: unknown, name: string) => T; verbatim?: boolean } = {}): Reader<T> {
  return Object.assign(parse, { expected, ...extra });
}

function isBlank(raw: string | undefined, r: Reader<unknown>): raw is undefined {
  return raw === undefined || (r.verbatim ? raw === '' : raw.trim() === '');
}

/** Text (a flag's, say) through a reader; unset or blank gives undefined, as an unset variable does. */
export function parseValue<T>(name: string, raw: string | undefined, r: Reader<T>): T | undefined {
  return isBlank(raw, r) ? undefined : r(raw, name);
}

export interface EnvReader {
  <T>(name: string, r: Reader<T>, fallback: T): T;
  <T>(name: string, r: Reader<T>): T | undefined;
}

/** Reads variables of `env`; an unset or blank variable gives the fallback. */
export function envReader(env: Env = process.env): EnvReader {
  return (<T>(name: string, r: Reader<T>, fallback?: T): T | undefined => parseValue(name, env[name], r) ?? fallback) as EnvReader;
}

/** A value given in code: undefined gives the fallback, anything else must pass the reader's check. */
export function option<T>(name: string, value: unknown, r: Checker<T>, fallback: T): T;
export function option<T>(name: string, value: unknown, r: Checker<T>): T | undefined;
export function option<T>(name: string, value: unknown, r: Checker<T>, fallback?: T): T | undefined {
  return value === undefined ? fallback : r.check(value, name);
}

/** Narrows a reader to the values `valid` accepts; `expected` replaces its description. */
export function refine<T>(r: Reader<T>, valid: (value: T) => boolean, expected: string): Reader<T> {
  const fail = (value: unknown, name: string): never => {
    throw new SettingError(name, value, expected);
  };
  return reader(
    expected,
    (raw, name) => {
      const v = r(raw, name);
      return valid(v) ? v : fail(raw, name);
    },
    {
      ...(r.check
        ? {
            check: (value: unknown, name: string) => {
              const v = r.check!(value, name);
              return valid(v) ? v : fail(value, name);
            },
          }
        : {}),
      ...(r.verbatim ? { verbatim: true } : {}),
    },
  );
}

// ---- numbers

export interface Bounds {
  /** Inclusive. Default: no lower bound for numbers, 0 for milliseconds. */
  min?: number;
  /** Inclusive. Default: none. */
  max?: number;
  /** Above zero (not just from zero). */
  positive?: boolean;
}

function describe(noun: string, b: Bounds, plural = ''): string {
  const max = b.max ?? Infinity;
  if (b.positive && max === Infinity) return `a positive ${noun}${plural}`;
  if (b.min === 0 && max === Infinity) return `a non-negative ${noun}${plural}`;
  const article = /^[aeiou]/.test(noun) ? 'an' : 'a';
  if (b.min !== undefined && max !== Infinity) return `${article} ${noun}${plural} from ${b.min} to ${max}`;
  if (b.min !== undefined) return `${article} ${noun}${plural} ≥ ${b.min}`;
  if (max !== Infinity) return `${article} ${noun}${plural} ≤ ${max}`;
  return `${article} ${noun}${plural}`;
}

function inBounds(v: number, b: Bounds): boolean {
  return (b.min === undefined || v >= b.min) && (b.max === undefined || v <= b.max) && (!b.positive || v > 0);
}

// Plain decimal notation only: Number() would also take "0x10", "1e3" and "Infinity", which in a
// setting are far more likely typos than intent.
const INTEGER_TEXT = /^[+-]?\d+$/;
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function numeric(expected: string, text: RegExp, integer: boolean, b: Bounds): Checker<number> {
  const ok = (v: number) => Number.isFinite(v) && (!integer || Number.isInteger(v)) && inBounds(v, b);
  const check = (value: unknown, name: string): number => {
    if (typeof value !== 'number' || !ok(value)) throw new SettingError(name, value, expected);
    return value;
  };
  return reader(
    expected,
    (raw, name) => {
      const t = raw.trim();
      const v = Number(t);
      if (!text.test(t) || !ok(v)) throw new SettingError(name, raw, expected);
      return v;
    },
    { check },
  ) as Checker<number>;
}

export function integer(b: Bounds = {}): Checker<number> {
  return numeric(describe('integer', b), INTEGER_TEXT, true, b);
}

export function decimal(b: Bounds = {}): Checker<number> {
  return numeric(describe('number', b), DECIMAL_TEXT, false, b);
}

/** A duration; never negative. `whole` for settings that have always been whole milliseconds. */
export function milliseconds(b: Bounds & { whole?: boolean } = {}): Checker<number> {
  const bounds = { ...b, min: Math.max(0, b.min ?? 0) };
  const noun = b.whole ? 'whole number' : 'number';
  return numeric(`${describe(noun, bounds, ' of milliseconds')}`, b.whole ? INTEGER_TEXT : DECIMAL_TEXT, b.whole ?? false, bounds);
}

/** A TCP port; 0 (any free port) only where listening on an ephemeral port makes sense. */
export function port(o: { allowZero?: boolean } = {}): Checker<number> {
  const min = o.allowZero ? 0 : 1;
  return numeric(`a port number (${min}..65535)`, INTEGER_TEXT, true, { min, max: 65_535 });
}

// ---- booleans and words

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

export const boolean: Checker<boolean> = reader(
  'true or false (or 1/0, yes/no)',
  (raw, name) => {
    const v = raw.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    throw new SettingError(name, raw, boolean.expected);
  },
  {
    check: (value, name) => {
      if (typeof value !== 'boolean') throw new SettingError(name, value, 'true or false');
      return value;
    },
  },
) as Checker<boolean>;

/**
 * One of a few words, case-insensitive; the value comes back in the spelling of `allowed`. A value
 * given in code must be one of the words too (in any case).
 */
export function oneOf<const T extends string>(allowed: readonly T[]): Checker<T> {
  const expected = `one of ${allowed.join(', ')}`;
  const pick = (value: unknown, name: string): T => {
    const v = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
    const hit = allowed.find((a) => a.toLowerCase() === v);
    if (hit === undefined) throw new SettingError(name, value, expected);
    return hit;
  };
  return reader(expected, pick, { check: pick }) as Checker<T>;
}

/** Text, trimmed (surrounding spaces in a variable are never meant); blank is unset. */
export const text: Reader<string> = reader('a non-empty string', (raw) => raw.trim());

const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** An IP address or DNS host name, without a port or scheme (a common slip in a host setting). */
export const host: Reader<string> = refine(
  text,
  // All-digit names are bad IPv4 addresses, not host names.
  (v) => isIP(v) !== 0 || (HOST_NAME.test(v) && !/^[\d.]+$/.test(v)),
  'an IP address or host name (no port, no scheme)',
);

/** An absolute URL of one of `schemes` (e.g. 'ws:') with a host; returned as given, trimmed. */
export function url(schemes: readonly string[]): Reader<string> {
  const expected = `${schemes.map((s) => `${s}//`).join(' or ')} (an absolute URL with a host)`;
  return reader(expected, (raw, name) => {
    const t = raw.trim();
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      throw new SettingError(name, raw, expected);
    }
    // The URL parser forgives a missing slash ("ws:/host"); a setting that is written wrong is
    // more likely to be wrong in other ways too.
    const written = t.slice(0, u.protocol.length + 2).toLowerCase() === `${u.protocol}//`;
    if (!schemes.includes(u.protocol) || !written || u.hostname === '') throw new SettingError(name, raw, expected);
    return t;
  });
}

/**
 * A shared secret, taken verbatim. It travels in an HTTP header, and HTTP trims header values, so a
 * secret with surrounding whitespace could never match on the other side; one with control
 * characters could not even be sent. The value is never put in the message.
 */
export function secret(o: { minLength: number }): Reader<string> {
  const expected = `at least ${o.minLength} characters, with no leading or trailing whitespace and no control characters`;
  return reader(
    expected,
    (raw, name) => {
      const problem = raw.length < o.minLength ? `${raw.length} characters` : raw.trim() !== raw ? 'a value with leading or trailing whitespace' : /[\u0000-\u001f\u007f]/.test(raw) ? 'a value with control characters' : null;
      if (problem !== null) throw new SettingError(name, `(hidden: ${problem})`, expected, `${name} must be ${expected}, got ${problem}`);
      return raw;
    },
    { verbatim: true },
  );
}

/**
 * A comma-separated list of IP ranges in CIDR notation (`10.0.0.0/16, fd00::/8`); a bare address
 * is a range of one. Returned normalized (`10.0.0.0/16`), so every holder of the setting builds
 * the same matcher from it.
 */
export const cidrList: Reader<string[]> = reader('a comma-separated list of IP ranges such as 10.0.0.0/16 or fd00::/8', (raw, name) => {
  const out: string[] = [];
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const slash = item.indexOf('/');
    const address = slash < 0 ? item : item.slice(0, slash);
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefixText = slash < 0 ? String(max) : item.slice(slash + 1);
    const prefix = Number(prefixText);
    if (family === 0 || !/^\d{1,3}$/.test(prefixText) || prefix > max) {
      throw new SettingError(name, raw, cidrList.expected, `${name} must be ${cidrList.expected}, got "${item}" in "${raw}"`);
    }
    out.push(`${address}/${prefix}`);
  }
  return out;
});

/**
 * A certificate's SHA-256 fingerprint: 64 hex digits, or 32 colon-separated pairs as
 * `openssl x509 -noout -fingerprint -sha256` prints them; returned as lower-case hex without colons
 * (the form of the invoke payload's certSha256).
 */
export const sha256Fingerprint: Reader<string> = reader('a SHA-256 fingerprint (64 hex digits, colons allowed between pairs)', (raw, name) => {
  const t = raw.trim().replace(/^sha256 fingerprint=/i, '');
  const hex = /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/i.test(t) ? t.replace(/:/g, '') : t;
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new SettingError(name, raw, sha256Fingerprint.expected);
  return hex.toLowerCase();
});

// ---- paths and status lists

/**
 * A URL path: starts with `/`, no whitespace or control characters, no query or fragment (a
 * setting that names where to send something, or a prefix to take off). Returned trimmed.
 */
export const urlPath: Checker<string> = (() => {
  const expected = 'a path starting with / (no spaces, query or fragment)';
  const parse = (value: unknown, name: string): string => {
    const t = typeof value === 'string' ? value.trim() : undefined;
    if (t === undefined || !t.startsWith('/') || /[\s\u0000-\u001f\u007f?#]/.test(t)) throw new SettingError(name, value, expected);
    return t;
  };
  return reader(expected, parse, { check: parse }) as Checker<string>;
})();

/** HTTP statuses as inclusive ranges: `[[200, 399], [404, 404]]` for `200-399,404`. */
export type StatusRanges = readonly (readonly [number, number])[];

/** `200-399,404`: the ranges as the setting writes them. */
export function describeStatuses(ranges: StatusRanges): string {
  return ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
}

export function statusMatches(ranges: StatusRanges, status: number): boolean {
  return ranges.some(([lo, hi]) => status >= lo && status <= hi);
}

/**
 * A list of HTTP statuses and ranges, comma-separated: `200-399,404`. Each status is 100..599 and
 * a range runs low to high. In code: the same text, or an array of statuses (`[200, 204]`).
 */
export const statusList: Checker<StatusRanges> = (() => {
  const expected = 'a comma-separated list of HTTP statuses (100..599) and ranges, such as 200-399,404';
  const isStatus = (n: number) => Number.isInteger(n) && n >= 100 && n <= 599;
  const parseText = (raw: string, name: string, value: unknown): StatusRanges => {
    const out: [number, number][] = [];
    for (const part of raw.split(',')) {
      const item = part.trim();
      if (item === '') continue;
      const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(item);
      const lo = m ? Number(m[1]) : NaN;
      const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
      if (!isStatus(lo) || !isStatus(hi) || hi < lo) {
        throw new SettingError(name, value, expected, `${name} must be ${expected}, got "${item}" in ${show(value)}`);
      }
      out.push([lo, hi]);
    }
    if (out.length === 0) throw new SettingError(name, value, expected);
    return Object.freeze(out.map((r) => Object.freeze(r)));
  };
  const check = (value: unknown, name: string): StatusRanges => {
    if (typeof value === 'string') return parseText(value, name, value);
    if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number' && isStatus(v))) {
      return Object.freeze(value.map((v: number) => Object.freeze([v, v] as const)));
    }
    throw new SettingError(name, Array.isArray(value) ? `[${value.join(', ')}]` : value, expected);
  };
  return reader(expected, (raw, name) => parseText(raw, name, raw), { check }) as Checker<StatusRanges>;
})();
