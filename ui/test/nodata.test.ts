// The metric names a panel's PromQL selects, for "no target exports `x`".
import "./browser-globals";
import { test } from "node:test";
import assert from "node:assert/strict";
import { selectedMetrics } from "../src/dashboards/nodata";

const CASES: [string, string[]][] = [
  ["node_timex_offset_seconds", ["node_timex_offset_seconds"]],
  ['rate(node_cpu_seconds_total{mode!="idle", job="$job"}[5m] offset 1h)', ["node_cpu_seconds_total"]],
  ["sum by (le, job) (rate(http_bucket[1m])) / ignoring(le) group_left sum without(le) (x_total)", ["http_bucket", "x_total"]],
  ['{__name__="up", job="a"} or {"my.metric", a="b"}', ["up", "my.metric"]],
  ['label_replace(vector(1), "x", "up", "", "") * 2e3 + Inf', []],
  ["histogram_quantile(0.9, sum(rate(a_bucket[5m])) by (le)) > bool 0.5", ["a_bucket"]],
  ["a and on() b unless c", ["a", "b", "c"]],
  ["max_over_time(x[1h:5m]) # a comment naming y", ["x"]],
];

test("metric names selected by an expression", () => {
  for (const [expr, want] of CASES) assert.deepEqual(selectedMetrics(expr), want, expr);
});
