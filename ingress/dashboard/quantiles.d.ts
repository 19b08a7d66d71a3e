// Types of quantiles.js (plain JavaScript: the dashboard page imports it as it is).

/**
 * The q-quantile of the requests that ended between two snapshots of a cumulative histogram,
 * interpolated inside its bucket; null when none ended in between or a count went down.
 */
export function quantileBetween(le: readonly (number | null)[], before: readonly number[], after: readonly number[], q: number): number | null;
