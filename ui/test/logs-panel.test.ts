// Loki targets on dashboards: which API a datasource means, and the logs panel's rows.
import "./browser-globals";
import { test } from "node:test";
import assert from "node:assert/strict";
import { datasourceAPI, datasourceProblem } from "../src/dashboards/datasources";
import { logRows, rowLevel, varyingLabels } from "../src/dashboards/panels/logs";
import type { Frame } from "../src/dashboards/types";

test("a Loki datasource is served by the Loki API; others stay Prometheus or unsupported", () => {
  assert.deepEqual(
    [{ type: "loki", uid: "x" }, "my-loki", { type: "prometheus", uid: "loki-named" }, null, "-- Mixed --"].map(datasourceAPI),
    ["loki", "loki", "prometheus", "prometheus", "prometheus"],
  );
  assert.equal(datasourceProblem({ type: "loki", uid: "a" }), null);
  assert.equal(datasourceProblem({ type: "elasticsearch", uid: "es" }), "a elasticsearch datasource");
  assert.equal(datasourceProblem("tempo-1"), "datasource tempo-1");
});

function stream(labels: Record<string, string>, rows: [string, string][]): Frame {
  return {
    refId: "A",
    labels,
    name: "",
    timestamps: new Float64Array(rows.length),
    values: rows.map(() => null),
    lines: rows.map(([, l]) => l),
    nanos: rows.map(([t]) => t),
  };
}

const FRAMES = [
  stream({ app: "api", level: "error" }, [["1714557600000000001", "db down"], ["1714557600000000003", "db down"]]),
  stream({ app: "web" }, [["1714557600000000002", "GET / 200 12ms"], ["1714557600000000004", "GET / 200 15ms"]]),
];

test("rows merge streams by their exact nanosecond times, newest first or ascending", () => {
  assert.deepEqual(logRows(FRAMES, false).map((r) => r.line), ["GET / 200 15ms", "db down", "GET / 200 12ms", "db down"]);
  assert.deepEqual(logRows(FRAMES, true).map((r) => r.nanos), [1714557600000000001n, 1714557600000000002n, 1714557600000000003n, 1714557600000000004n]);
});

test("dedup folds consecutive repeats: exact lines, or lines equal but for numbers", () => {
  const ascending = [stream({}, [["1", "a 1"], ["2", "a 1"], ["3", "a 2"], ["4", "b"]])];
  assert.deepEqual(logRows(ascending, true, "exact").map((r) => [r.line, r.repeats]), [["a 1", 1], ["a 2", 0], ["b", 0]]);
  assert.deepEqual(logRows(ascending, true, "numbers").map((r) => [r.line, r.repeats]), [["a 1", 2], ["b", 0]]);
});

test("levels come from labels first, then the line's first level word; labels shown are the varying ones", () => {
  const rows = logRows(FRAMES, true);
  assert.deepEqual(rows.map(rowLevel), ["error", "", "error", ""]);
  assert.equal(rowLevel({ nanos: 0n, line: "2024 WARN disk 91%", labels: {}, repeats: 0 }), "warn");
  assert.deepEqual(varyingLabels(rows), ["app", "level"]);
});
