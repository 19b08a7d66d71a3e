// GET /range by hand, for the frameworks without a static-file sender in this suite: what
// `send` does for Express, reduced to one in-memory entity (RANGE_BODY).

import { ETAG, RANGE_BODY, parseRange } from './shared.ts';

export interface RangeAnswer {
  status: 200 | 206 | 416;
  headers: Record<string, string>;
  body: Buffer;
}

export function answerRange(rangeHeader: string | undefined): RangeAnswer {
  const size = RANGE_BODY.length;
  const base = { 'accept-ranges': 'bytes', etag: ETAG, 'content-type': 'application/octet-stream' };
  const r = parseRange(rangeHeader, size);
  if (r === null) return { status: 200, headers: { ...base, 'content-length': String(size) }, body: RANGE_BODY };
  if (r === 'unsatisfiable') return { status: 416, headers: { ...base, 'content-range': `bytes */${size}`, 'content-length': '0' }, body: Buffer.alloc(0) };
  const body = RANGE_BODY.subarray(r.start, r.end + 1);
  return {
    status: 206,
    headers: { ...base, 'content-range': `bytes ${r.start}-${r.end}/${size}`, 'content-length': String(body.length) },
    body,
  };
}
