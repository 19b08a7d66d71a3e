// How the bench's reports write numbers: one place, so that every table rounds alike.

export const f1 = (n: number) => (Math.round(n * 10) / 10).toLocaleString('en-US');
export const f2 = (n: number) => (Math.round(n * 100) / 100).toString();
export const int = (n: number) => Math.round(n).toLocaleString('en-US');
export const pct = (n: number) => `${(Math.round(n * 10000) / 100).toString()}%`;
export const usd = (n: number) => `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`;
