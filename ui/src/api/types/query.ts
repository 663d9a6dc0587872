// /api/v1/query and /api/v1/query_range: the `data` member of a query's answer.
import type { Labels } from "./labels";

/** A native histogram as Prometheus's API renders it; a bucket is [boundary rule, lower, upper, count]. */
export interface NativeHistogram {
  count: string;
  sum: string;
  buckets?: [number, string, string, string][];
}

/** A sample holds a float `value` or a native `histogram`. */
export interface VectorSample { metric: Labels; value?: [number, string]; histogram?: [number, NativeHistogram] }
/** `values` only when the series has float points, `histograms` only when it has histogram points. */
export interface MatrixSeries { metric: Labels; values?: [number, string][]; histograms?: [number, NativeHistogram][] }
export type QueryData =
  | { resultType: "vector"; result: VectorSample[] }
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "scalar"; result: [number, string] }
  | { resultType: "string"; result: [number, string] };
