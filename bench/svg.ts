// A hand-written SVG scatter chart: latency (log scale) against send time, one colour per series.
// No dependency; the output is plain, well-formed XML.

export interface Point {
  /** Seconds from the start of the run (send time). */
  t: number;
  /** Latency in milliseconds. */
  ms: number;
}

export interface Series {
  name: string;
  colour: string;
  points: readonly Point[];
  /** Requests the series stands for when `points` is a sample of them (shown in the legend). */
  total?: number;
}

export interface ChartOptions {
  title: string;
  width?: number;
  height?: number;
  /** Horizontal reference lines, e.g. the cold start. */
  marks?: { ms: number; label: string }[];
  /** Vertical reference lines, e.g. the step to 100 clients. */
  events?: { t: number; label: string }[];
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

const fmt = (n: number) => (Math.round(n * 10) / 10).toString();

function msLabel(ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`;
  return `${ms} ms`;
}

/**
 * Keeps at most `max` points: every point at or above `keepAboveMs` (the rare slow ones the chart is
 * about), then an even stride through the rest.
 */
export function thin(points: readonly Point[], max: number, keepAboveMs = Infinity): Point[] {
  if (points.length <= max) return [...points];
  const slow = points.filter((p) => p.ms >= keepAboveMs);
  const rest = points.filter((p) => p.ms < keepAboveMs);
  const room = Math.max(0, max - slow.length);
  if (rest.length <= room) return [...slow, ...rest];
  const stride = rest.length / room;
  const kept: Point[] = [];
  for (let i = 0; i < room; i++) kept.push(rest[Math.floor(i * stride)]!);
  return [...slow, ...kept];
}

export function scatterSvg(series: readonly Series[], o: ChartOptions): string {
  const width = o.width ?? 960;
  const height = o.height ?? 480;
  const m = { left: 64, right: 16, top: 40, bottom: 64 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;

  let tMax = 1;
  let yMin = Infinity;
  let yMax = 0;
  for (const s of series) {
    for (const p of s.points) {
      tMax = Math.max(tMax, p.t);
      yMin = Math.min(yMin, p.ms);
      yMax = Math.max(yMax, p.ms);
    }
  }
  for (const mk of o.marks ?? []) yMax = Math.max(yMax, mk.ms);
  if (!Number.isFinite(yMin)) yMin = 1;
  // Decades that cover the data, at least 0.1 ms .. 10 ms.
  const lo = Math.min(-1, Math.floor(Math.log10(Math.max(1e-3, yMin))));
  const hi = Math.max(1, Math.ceil(Math.log10(Math.max(1e-3, yMax))));
  const x = (t: number) => m.left + (t / tMax) * pw;
  const y = (ms: number) => m.top + ph - ((Math.log10(Math.max(10 ** lo, ms)) - lo) / (hi - lo)) * ph;

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`);
  // Axes and grid.
  out.push(`<g stroke="#dddddd" stroke-width="1">`);
  for (let d = lo; d <= hi; d++) out.push(`<line x1="${m.left}" y1="${fmt(y(10 ** d))}" x2="${m.left + pw}" y2="${fmt(y(10 ** d))}"/>`);
  const tStep = niceStep(tMax / 10);
  for (let t = 0; t <= tMax + 1e-9; t += tStep) out.push(`<line x1="${fmt(x(t))}" y1="${m.top}" x2="${fmt(x(t))}" y2="${m.top + ph}"/>`);
  out.push(`</g>`);
  out.push(`<g fill="#333333">`);
  for (let d = lo; d <= hi; d++) {
    out.push(`<text x="${m.left - 6}" y="${fmt(y(10 ** d) + 4)}" text-anchor="end">${escapeXml(msLabel(Number((10 ** d).toPrecision(1))))}</text>`);
  }
  for (let t = 0; t <= tMax + 1e-9; t += tStep) {
    out.push(`<text x="${fmt(x(t))}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 34}" text-anchor="middle">send time (s)</text>`);
  out.push(`<text x="16" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.top + ph / 2})">latency (log scale)</text>`);
  out.push(`</g>`);
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888888"/>`);
  for (const mk of o.marks ?? []) {
    out.push(
      `<line x1="${m.left}" y1="${fmt(y(mk.ms))}" x2="${m.left + pw}" y2="${fmt(y(mk.ms))}" stroke="#aa0000" stroke-dasharray="6 4"/>`,
      `<text x="${m.left + pw - 4}" y="${fmt(y(mk.ms) - 4)}" text-anchor="end" fill="#aa0000">${escapeXml(mk.label)}</text>`,
    );
  }
  for (const ev of o.events ?? []) {
    out.push(
      `<line x1="${fmt(x(ev.t))}" y1="${m.top}" x2="${fmt(x(ev.t))}" y2="${m.top + ph}" stroke="#555555" stroke-dasharray="3 3"/>`,
      `<text x="${fmt(x(ev.t) + 4)}" y="${m.top + 12}" fill="#555555">${escapeXml(ev.label)}</text>`,
    );
  }
  // Points: one group per series, a small circle per request.
  series.forEach((s, i) => {
    out.push(`<g class="series-${i}" fill="${escapeXml(s.colour)}" fill-opacity="0.45">`);
    for (const p of s.points) out.push(`<circle cx="${fmt(x(p.t))}" cy="${fmt(y(p.ms))}" r="1.6"/>`);
    out.push(`</g>`);
  });
  // Legend.
  series.forEach((s, i) => {
    const ly = height - 14;
    const lx = m.left + i * 320;
    const shown = s.total !== undefined && s.total !== s.points.length ? ` (${s.points.length} of ${s.total} requests shown)` : ` (${s.points.length} requests)`;
    out.push(`<circle cx="${lx + 6}" cy="${ly - 4}" r="5" fill="${escapeXml(s.colour)}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${escapeXml(s.name + shown)}</text>`);
  });
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p;
  return 10 * p;
}
