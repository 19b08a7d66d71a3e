// Percentiles of the requests that ended between two snapshots of the router's cumulative
// request-duration histogram. Plain JavaScript because the browser imports it as it is
// (index.html); quantiles.d.ts gives TypeScript its types; quantiles.test.ts tests it.

/**
 * The q-quantile of the requests that ended between two snapshots of a cumulative histogram,
 * interpolated linearly inside the bucket that holds it, as Prometheus's histogram_quantile does:
 * requests are taken as spread evenly between the bucket's bounds (0 below the first bound). A
 * quantile that falls in the last, unbounded bucket is the highest finite bound (the true value is
 * at least that).
 *
 * @param {readonly (number | null)[]} le upper bounds, ascending; the last is Infinity (null when it came through JSON)
 * @param {readonly number[]} before cumulative counts of the earlier snapshot (counts[i]: requests that took at most le[i])
 * @param {readonly number[]} after cumulative counts of the later snapshot
 * @param {number} q the quantile, 0 to 1 (0.5: the median)
 * @returns {number | null} in le's unit; null when no request ended in between, or when a count
 *   went down (the router restarted) or the snapshots do not match
 */
export function quantileBetween(le, before, after, q) {
  const n = le.length;
  if (n < 2 || before.length !== n || after.length !== n) return null;
  /** @type {number[]} */
  const cumulative = [];
  for (let i = 0; i < n; i++) {
    const d = after[i] - before[i];
    if (!(d >= 0) || (i > 0 && d < cumulative[i - 1])) return null;
    cumulative.push(d);
  }
  const total = cumulative[n - 1];
  if (total === 0) return null;
  const rank = Math.min(1, Math.max(0, q)) * total;
  // The first bucket that reaches the rank and holds any request.
  let b = 0;
  while (cumulative[b] < rank || cumulative[b] === 0) b++;
  const top = le[b];
  if (b === n - 1 || top === null || top === Infinity) return /** @type {number} */ (le[n - 2]);
  const lower = b === 0 ? 0 : /** @type {number} */ (le[b - 1]);
  const below = b === 0 ? 0 : cumulative[b - 1];
  return lower + (top - lower) * ((rank - below) / (cumulative[b] - below));
}
