// The data shaping of the heatmap, histogram and state timeline panels: classic buckets
// de-accumulated as Grafana's Prometheus datasource does for `format: heatmap`, native histogram
// buckets as rows, Grafana's histogram bucket sizes, runs of equal states, axis ticks.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { DisplayValue } from "../src/dashboards/fieldconfig";
import { ticks } from "../src/dashboards/panels/bars";
import { calculateHeatmap, calculationOf } from "../src/dashboards/panels/heatmapcalc";
import { heatmapData } from "../src/dashboards/panels/heatmapdata";
import { histogramBuckets } from "../src/dashboards/panels/histogramdata";
import { spans } from "../src/dashboards/panels/statetimeline";
import type { Frame } from "../src/dashboards/types";

const T = Float64Array.from([100, 115, 130]);

function frame(labels: Record<string, string>, values: (number | null)[], extra: Partial<Frame> = {}): Frame {
  return { refId: "A", labels, name: labels.le ?? "", timestamps: T, values, ...extra };
}

test("classic buckets are sorted by le and de-accumulated for format heatmap", () => {
  const frames = [frame({ le: "+Inf" }, [4, 8, null]), frame({ le: "0.1" }, [1, 2, 3]), frame({ le: "0.5" }, [3, 6, 3])];
  const data = heatmapData(frames, [{ refId: "A", format: "heatmap" }]);
  assert.deepEqual(data?.rows.map((r) => [r.lower, r.upper, r.counts]), [
    [null, 0.1, [1, 2, 3]],
    [0.1, 0.5, [2, 4, 0]],
    [0.5, Infinity, [1, 2, null]],
  ]);
  assert.equal(data?.step, 15);
  // Without format heatmap the series already count their own bucket.
  assert.deepEqual(heatmapData(frames, [{ refId: "A" }])?.rows.map((r) => r.counts[0]), [1, 3, 4]);
});

test("a calculated heatmap counts every sample into time × value buckets of the sizes given", () => {
  const calc = calculationOf({ calculate: true, calculation: { xBuckets: { mode: "size", value: "30s" }, yBuckets: { mode: "size", value: "10" } } });
  assert.deepEqual(calc, { x: { mode: "size", value: 30 }, y: { mode: "size", value: 10 }, yLog: null });
  // Times 100, 115, 130 fall in the 30 s buckets [90, 120) and [120, 150).
  const data = calculateHeatmap([frame({}, [5, 12, 31]), frame({}, [7, null, 19])], calc!);
  assert.deepEqual(Array.from(data!.timestamps), [120, 150]);
  assert.equal(data!.step, 30);
  assert.equal(data!.layout, "ge");
  assert.deepEqual(data!.rows.map((r) => [r.lower, r.upper, r.counts]), [
    [0, 10, [2, 0]],
    [10, 20, [1, 1]],
    [20, 30, [0, 0]],
    [30, 40, [0, 1]],
  ]);
  // Milliseconds are a size too, as Grafana stores them.
  assert.equal(calculationOf({ calculate: true, calculation: { xBuckets: { value: "60000" } } })?.x.value, 60);
});

test("a calculated heatmap without sizes takes the largest nice size under range / (count - 1)", () => {
  const calc = calculationOf({ calculate: true })!;
  assert.deepEqual(calc, { x: { mode: "size", value: null }, y: { mode: "size", value: null }, yLog: null });
  // 10 value buckets over 0..90: 90 / 9 = 10; 20 time buckets over 30 s: 30 / 19 → 1 s.
  const data = calculateHeatmap([frame({}, [0, 45, 90])], calc)!;
  assert.equal(data.step, 1);
  assert.deepEqual(data.rows.map((r) => r.lower), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  assert.equal(data.rows.flatMap((r) => r.counts).reduce((a, c) => a! + c!, 0), 3);
  // A count of 4 buckets over 0..90: 30 is not nice, 25 is.
  const four = calculationOf({ calculate: true, calculation: { yBuckets: { mode: "count", value: "4" } } })!;
  assert.deepEqual(calculateHeatmap([frame({}, [0, 45, 90])], four)!.rows.map((r) => r.lower), [0, 25, 50, 75]);
  assert.equal(calculationOf({ calculate: false }), null);
});

test("a calculated heatmap on a log scale splits each power of the base", () => {
  const calc = calculationOf({ calculate: true, calculation: { yBuckets: { mode: "size", value: "2", scale: { type: "log", log: 2 } } } })!;
  const data = calculateHeatmap([frame({}, [1, 3, 8]), frame({}, [0, -1, 2])], calc)!;
  // Half powers of two: [1, 1.41), [1.41, 2), [2, 2.83), [2.83, 4), [4, 5.66), [5.66, 8), [8, 11.3); 0 and -1 are not counted.
  assert.deepEqual(
    data.rows.map((r) => r.counts.reduce((a, c) => a! + c!, 0)),
    [1, 0, 1, 1, 0, 0, 1],
  );
  assert.deepEqual(data.rows.map((r) => r.lower).slice(0, 3), [1, 1.41421356237, 2]);
});

test("series without le are rows of their own, the first on top", () => {
  const data = heatmapData([frame({}, [1, 2, 3], { name: "a" }), frame({}, [4, 5, 6], { name: "b" })], []);
  assert.deepEqual(data?.rows.map((r) => [r.name, r.upper]), [["b", null], ["a", null]]);
});

test("native histogram buckets become rows by their bounds, summed over series", () => {
  const h = (buckets: [number, string, string, string][]) => ({ count: "0", sum: "0", buckets });
  const frames = [
    frame({}, [null, null, null], { histograms: [h([[0, "1", "2", "3"], [0, "0.5", "1", "1"]]), null, h([[0, "1", "2", "5"]])] }),
    frame({ job: "b" }, [null, null, null], { histograms: [h([[0, "1", "2", "1"]]), null, null] }),
  ];
  const data = heatmapData(frames, []);
  assert.deepEqual(data?.rows.map((r) => [r.lower, r.upper, r.counts]), [
    [0.5, 1, [1, null, null]],
    [1, 2, [4, null, 5]],
  ]);
});

test("histogram buckets: Grafana's automatic size and an explicit one", () => {
  assert.deepEqual(histogramBuckets([[10, 30, 60]], {}), { lowers: [0, 20, 40, 60], size: 20, counts: [[1, 1, 0, 1]] });
  assert.deepEqual(histogramBuckets([[1, null, 2.5], [7]], { size: 5, offset: 1 }), { lowers: [1, 6], size: 5, counts: [[2, 0], [0, 1]] });
  assert.deepEqual(histogramBuckets([[0.01, 0.02, 0.05, 0.3]], {})?.size, 0.01);
  assert.equal(histogramBuckets([[null, NaN]], {}), null);
});

function state(text: string): DisplayValue {
  return { text, prefix: "", suffix: "", numeric: null, color: text === "up" ? "green" : "red", percent: 0 };
}

test("state runs merge equal states and end at a gap", () => {
  const runs = spans([0, 10, 20, 30, 40, 50], [1, 1, 0, null, 1, 1], (v) => state(v ? "up" : "down"));
  assert.deepEqual(runs.map((r) => [r.start, r.end, r.state.text]), [
    [0, 20, "up"],
    [20, 30, "down"],
    [40, 60, "up"],
  ]);
});

test("axis ticks step by 1, 2, 2.5 or 5 times a power of ten", () => {
  assert.deepEqual(ticks(0, 60, 4), [0, 20, 40, 60]);
  assert.deepEqual(ticks(0, 1, 4), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(ticks(-5, 5, 2), [-5, 0, 5]);
});
