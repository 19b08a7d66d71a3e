// Trace context: the W3C `traceparent` a request carries from the client (or the ALB) through the
// router and its channel to the app, so one request can be followed across every log it touches.
// The router takes a valid one as it is (it records no spans of its own, so it is not a new
// parent); it derives one from AWS's `X-Amzn-Trace-Id` when only that came (the same trace id, as
// AWS X-Ray and OpenTelemetry map it), and makes one otherwise. docs/ARCHITECTURE.md, "Observability".

import { randomFillSync } from 'node:crypto';

export const TRACEPARENT = 'traceparent';
export const AMZN_TRACE_ID = 'x-amzn-trace-id';

export interface TraceContext {
  /** The header as it goes on to the app. */
  traceparent: string;
  /** Its 32 hex digits, what logs carry. */
  traceId: string;
  /** The ALB's own id (`Root=1-…`), when it sent one. */
  amznTraceId: string | undefined;
}

const HEX = /^[0-9a-f]+$/;
const ZEROS_32 = '0'.repeat(32);
const ZEROS_16 = '0'.repeat(16);

/** The trace id of a valid `traceparent` (W3C Trace Context level 1), else null. */
export function traceIdOf(traceparent: string): string | null {
  const v = traceparent.trim();
  // version "00" is exactly 55 characters; a later version may append fields after a '-'.
  if (v.length < 55 || v[2] !== '-' || v[35] !== '-' || v[52] !== '-') return null;
  const version = v.slice(0, 2);
  if (!HEX.test(version) || version === 'ff') return null;
  if (version === '00' ? v.length !== 55 : v.length > 55 && v[55] !== '-') return null;
  const traceId = v.slice(3, 35);
  const parentId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(parentId) || !HEX.test(flags)) return null;
  if (traceId === ZEROS_32 || parentId === ZEROS_16) return null;
  return traceId;
}

/**
 * `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=…;Sampled=1` → the W3C ids AWS maps it to:
 * trace id = the Root's epoch and random parts joined; the Parent when given; Sampled as the flag.
 */
export function fromAmznTraceId(header: string): { traceId: string; parentId: string | null; sampled: boolean | null } | null {
  let traceId: string | null = null;
  let parentId: string | null = null;
  let sampled: boolean | null = null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim().toLowerCase();
    if (key === 'Root') {
      const m = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(value);
      if (m !== null) traceId = m[1]! + m[2]!;
    } else if (key === 'Parent' && /^[0-9a-f]{16}$/.test(value) && value !== ZEROS_16) parentId = value;
    else if (key === 'Sampled' && (value === '0' || value === '1')) sampled = value === '1';
  }
  return traceId === null || traceId === ZEROS_32 ? null : { traceId, parentId, sampled };
}

/**
 * The request's trace context, adding or replacing `traceparent` in `headers` (a flat name/value
 * list with lower-case names) when it has no valid one. A new trace is marked sampled: the router
 * logs every request, and an app whose tracer follows its parent's decision should trace it too.
 */
export function ensureTraceContext(headers: string[]): TraceContext {
  let at = -1;
  let amznTraceId: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name === TRACEPARENT) at = i;
    else if (name === AMZN_TRACE_ID) amznTraceId = headers[i + 1];
  }
  if (at >= 0) {
    const traceparent = headers[at + 1]!;
    const traceId = traceIdOf(traceparent);
    if (traceId !== null) return { traceparent, traceId, amznTraceId };
  }
  const amzn = amznTraceId !== undefined ? fromAmznTraceId(amznTraceId) : null;
  const traceId = amzn?.traceId ?? randomHex(16);
  const traceparent = `00-${traceId}-${amzn?.parentId ?? randomHex(8)}-${amzn?.sampled === false ? '00' : '01'}`;
  if (at >= 0) headers[at + 1] = traceparent;
  else headers.push(TRACEPARENT, traceparent);
  return { traceparent, traceId, amznTraceId };
}

// Random ids from a pool filled 4 KiB at a time: one syscall per 200 traces, not one per trace.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  // An all-zero id is invalid; 2^-64 odds, but cheap to rule out.
  return /^0+$/.test(hex) ? randomHex(bytes) : hex;
}
