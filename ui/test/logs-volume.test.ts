// The Logs page's volume: the metric query it asks, and a matrix cut into bars per level.
import "./browser-globals";
import { test } from "node:test";
import assert from "node:assert/strict";
import { volumeOf, volumeQuery, volumeStep } from "../src/logs_volume";

test("about 60 bars over any range, counted by level over the query's selector", () => {
  assert.deepEqual([300, 3600, 86400].map(volumeStep), [5, 60, 1440]);
  assert.equal(volumeQuery('{app="a"} |= "x" | json', 60), 'sum by (level) (count_over_time({app="a"} [60s]))');
});

test("counts land in their step's bar, levels stacked errors first, no level last", () => {
  const data = {
    resultType: "matrix",
    result: [
      { metric: {}, values: [[100, "1"]] as [number, string][] },
      { metric: { level: "info" }, values: [[100, "2"], [120, "3"], [999, "9"]] as [number, string][] },
      { metric: { level: "error" }, values: [[110, "4"]] as [number, string][] },
    ],
  };
  assert.deepEqual(volumeOf(data, 100, 120, 10), {
    startS: 100,
    stepS: 10,
    levels: [["error", [0, 4, 0]], ["info", [2, 0, 3]], ["unknown", [1, 0, 0]]],
  });
});
