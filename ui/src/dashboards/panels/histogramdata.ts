// The buckets of Grafana's `histogram` panel (grafana-data transformations/histogram.ts): every
// value of each series counted into buckets of bucketSize from bucketOffset; without a size, the
// first of 1, 2, 2.5, 4, 5 × 10^n over a 30th of the values' range and no smaller than the
// smallest gap between two values.

export interface Buckets {
  /** Each bucket's lower bound; a bucket spans [lower, lower + size). */
  lowers: number[];
  size: number;
  /** Per series, one count per bucket. */
  counts: number[][];
}

const BUCKET_COUNT = 30;

function autoSize(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  let smallest = Infinity;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1]) smallest = Math.min(smallest, sorted[i] - sorted[i - 1]);
  const target = (sorted[sorted.length - 1] - sorted[0]) / BUCKET_COUNT;
  if (smallest === Infinity) return Math.abs(sorted[0]) >= 1 ? Math.pow(10, Math.floor(Math.log10(Math.abs(sorted[0])))) : 1;
  for (let pow = -9; pow <= 18; pow++) {
    for (const m of [1, 2, 2.5, 4, 5]) {
      const size = m * Math.pow(10, pow);
      if (size > target && size >= smallest) return size;
    }
  }
  return smallest;
}

/** The buckets of `series` (nulls and NaN left out), or null when there is no value. */
export function histogramBuckets(series: ArrayLike<number | null>[], options: { size?: number | null; offset?: number | null }): Buckets | null {
  const numbers = series.map((s) => Array.from(s).filter((v): v is number => v !== null && Number.isFinite(v)));
  const all = numbers.flat();
  if (!all.length) return null;
  const size = options.size && options.size > 0 ? options.size : autoSize(all);
  const offset = options.offset ?? 0;
  const lowerOf = (v: number): number => {
    const k = Math.floor((v - offset) / size);
    return Number((offset + k * size).toPrecision(12));
  };
  const first = Math.floor((Math.min(...all) - offset) / size);
  const last = Math.floor((Math.max(...all) - offset) / size);
  const lowers: number[] = [];
  for (let k = first; k <= last; k++) lowers.push(Number((offset + k * size).toPrecision(12)));
  const counts = numbers.map((vs) => {
    const c = new Array<number>(lowers.length).fill(0);
    for (const v of vs) c[lowers.indexOf(lowerOf(v))]++;
    return c;
  });
  return { lowers, size, counts };
}
