// /api/v1/query and /api/v1/query_range: the `data` member of a query's answer.
import type { Labels } from "./labels";

export interface VectorSample { metric: Labels; value: [number, string] }
export interface MatrixSeries { metric: Labels; values: [number, string][] }
export type QueryData =
  | { resultType: "vector"; result: VectorSample[] }
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "scalar"; result: [number, string] }
  | { resultType: "string"; result: [number, string] };
