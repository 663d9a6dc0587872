// The table panel's data shaping: Prometheus frames as Grafana's datasource tables them, and the
// transformations (grafana/grafana public/app/features/transformers and
// packages/grafana-data/src/transformations/transformers: merge, reduce, organize, …).
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Table, framesToTables, sortTable, transform } from "../src/dashboards/panels/table";
import type { Frame, GrafanaPanel } from "../src/dashboards/types";

const at = (t: number): Float64Array => Float64Array.of(t);

function instant(refId: string, labels: Record<string, string>, value: number): Frame {
  return { refId, labels, name: JSON.stringify(labels), timestamps: at(1700000000), values: [value] };
}

const PANEL: GrafanaPanel = { type: "table", targets: [{ refId: "A", format: "table", instant: true }, { refId: "B", format: "table", instant: true }] };

function shape(tables: Table[]): [string, (string | number | null)[]][][] {
  return tables.map((t) => t.columns.map((c) => [c.name, c.values]));
}

test("instant queries in table format: a row per series, label columns, Value #refId", () => {
  const frames = [
    instant("A", { __name__: "up", job: "b", instance: "h2" }, 1),
    instant("A", { __name__: "up", job: "a", instance: "h1" }, 0),
    instant("B", { job: "a", instance: "h1" }, 5),
  ];
  const tables = framesToTables(PANEL, frames);
  assert.deepEqual(shape(tables), [
    [["Time", [1700000000000, 1700000000000]], ["__name__", ["up", "up"]], ["instance", ["h2", "h1"]], ["job", ["b", "a"]], ["Value #A", [1, 0]]],
    [["Time", [1700000000000]], ["instance", ["h1"]], ["job", ["a"]], ["Value #B", [5]]],
  ]);
  // B has no __name__: it joins A's row on Time, instance and job.
  const { tables: merged } = transform(tables, [{ id: "merge", options: {} }]);
  assert.deepEqual(shape(merged), [
    [
      ["Time", [1700000000000, 1700000000000]],
      ["__name__", ["up", "up"]],
      ["instance", ["h2", "h1"]],
      ["job", ["b", "a"]],
      ["Value #A", [1, 0]],
      ["Value #B", [null, 5]],
    ],
  ]);
});

test("range series: one table per series; reduce turns them into Field + reducer columns", () => {
  const frames: Frame[] = [
    { refId: "A", labels: { job: "x" }, name: "x", timestamps: Float64Array.of(0, 15, 30), values: [1, null, 3] },
    { refId: "A", labels: { job: "y" }, name: "y", timestamps: Float64Array.of(0, 15, 30), values: [4, 5, 6] },
  ];
  const panel: GrafanaPanel = { type: "table", targets: [{ refId: "A" }] };
  const tables = framesToTables(panel, frames);
  assert.deepEqual(shape(tables), [
    [["Time", [0, 30000]], ["x", [1, 3]]],
    [["Time", [0, 15000, 30000]], ["y", [4, 5, 6]]],
  ]);
  const { tables: reduced, skipped } = transform(tables, [
    { id: "reduce", options: { reducers: ["mean", "lastNotNull"], labelsToFields: true } },
    { id: "organize", options: { excludeByName: { Mean: true }, renameByName: { job: "Job" }, indexByName: { "Last *": 0 } } },
    { id: "somethingElse", options: {} },
  ]);
  assert.deepEqual(skipped, ["somethingElse"]);
  assert.deepEqual(shape(reduced), [[["Last *", [3, 6]], ["Field", ["x", "y"]], ["Job", ["x", "y"]]]]);
  const { tables: joined } = transform(tables, [{ id: "joinByField", options: {} }]);
  assert.deepEqual(shape(joined), [[["Time", [0, 15000, 30000]], ["x", [1, null, 3]], ["y", [4, 5, 6]]]]);
});

test("sorting: numbers numerically, strings naturally, nulls last both ways", () => {
  const t: Table = {
    name: "t",
    columns: [
      { name: "n", type: "number", values: [10, null, 2, 33], refId: "", labels: {} },
      { name: "s", type: "string", values: ["b10", "b2", "a", null], refId: "", labels: {} },
    ],
  };
  assert.deepEqual(sortTable(t, "n", false).columns[0].values, [2, 10, 33, null]);
  assert.deepEqual(sortTable(t, "n", true).columns[0].values, [33, 10, 2, null]);
  assert.deepEqual(sortTable(t, "s", false).columns[1].values, ["a", "b2", "b10", null]);
  const { tables } = transform([t], [{ id: "sortBy", options: { sort: [{ field: "n", desc: true }] } }]);
  assert.deepEqual(tables[0].columns[1].values, [null, "b10", "a", "b2"]);
});
