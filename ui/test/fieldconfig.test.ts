// Field config resolution, reducers, thresholds and value mappings. Expected values follow
// grafana/grafana packages/grafana-data/src: field/fieldOverrides.ts (defaults then overrides in
// order), transformations/fieldReducer.ts (doStandardCalcs), field/thresholds.ts
// (getActiveThreshold), utils/valueMappings.ts (getValueMappingResult).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_THRESHOLDS,
  activeThreshold,
  cssColor,
  dataRange,
  interpolateDisplayName,
  mapValue,
  normaliseMappings,
  reduce,
  resolveField,
  stripZeros,
  thresholdColor,
  thresholdInput,
} from "../src/dashboards/fieldconfig";
import type { Frame, GrafanaPanel } from "../src/dashboards/types";

function frame(name: string, values: (number | null)[], labels: Record<string, string> = {}, refId = "A"): Frame {
  return { refId, labels, name, timestamps: Float64Array.from(values.map((_, i) => 1000 + 15 * i)), values };
}

const SERIES = [1, null, 3, 2, null, 10, NaN, 4, null];

const REDUCE_CASES: [string, (number | null)[], number | null][] = [
  ["lastNotNull", SERIES, 4],
  ["last", SERIES, 4],
  ["first", SERIES, 1],
  ["firstNotNull", [null, NaN, 5, 6], 5],
  ["mean", SERIES, 4],
  ["max", SERIES, 10],
  ["min", SERIES, 1],
  ["sum", SERIES, 20],
  ["count", SERIES, 6],
  ["range", SERIES, 9],
  ["diff", SERIES, 3],
  // Counter semantics: 1→3 (+2), reset to 2 (counts as 2), →10 (+8), →4 reset at the end (+4).
  ["delta", [1, 3, 2, 10, 4], 2 + 2 + 8 + 4],
  ["delta", [5, 6, 7], 2],
  ["median", [3, 1, 2, 10], 2.5],
  ["mean", [null, null], null],
  ["sum", [], 0],
  ["count", [null], 0],
  ["lastNotNull", [], null],
  // Singlestat's valueName ids.
  ["current", [1, 2, null], 2],
  ["avg", [1, 2], 1.5],
  ["total", [1, 2], 3],
];

for (const [calc, values, want] of REDUCE_CASES) {
  test(`reduce ${calc} ${JSON.stringify(values)} → ${want}`, () => {
    assert.equal(reduce(values, calc), want);
  });
}

test("thresholds: the last step at or below the value; null base is -Infinity", () => {
  const steps = [
    { value: null, color: "green" },
    { value: 80, color: "orange" },
    { value: 90, color: "red" },
  ];
  const cases: [number, string][] = [[-1e9, "green"], [79.9, "green"], [80, "orange"], [89, "orange"], [90, "red"], [1e9, "red"]];
  for (const [v, want] of cases) assert.equal(thresholdColor(steps, v), want, `value ${v}`);
  assert.equal(activeThreshold([], 5), undefined);
  assert.equal(thresholdColor(DEFAULT_THRESHOLDS, 81), "red");
});

test("percentage thresholds compare the value's position in min..max", () => {
  assert.equal(thresholdInput("percentage", 150, 100, 200), 50);
  assert.equal(thresholdInput("absolute", 150, 100, 200), 150);
  const panel: GrafanaPanel = {
    type: "gauge",
    fieldConfig: { defaults: { min: 0, max: 200, thresholds: { mode: "percentage", steps: [{ value: null, color: "green" }, { value: 50, color: "red" }] } } },
  };
  const f = resolveField(panel, frame("x", [120]));
  assert.equal(f.display(120).color, cssColor("red"));
  assert.equal(f.display(90).color, cssColor("green"));
});

test("defaults then overrides in order: byName, byRegexp, byFrameRefID, byType, byValue", () => {
  const panel: GrafanaPanel = {
    type: "timeseries",
    fieldConfig: {
      defaults: { unit: "bytes", decimals: 1, custom: { fillOpacity: 10, lineWidth: 1 } },
      overrides: [
        { matcher: { id: "byName", options: "cpu" }, properties: [{ id: "unit", value: "percentunit" }, { id: "custom.fillOpacity", value: 50 }] },
        { matcher: { id: "byRegexp", options: "/^mem/" }, properties: [{ id: "custom.transform", value: "negative-Y" }] },
        { matcher: { id: "byFrameRefID", options: "B" }, properties: [{ id: "color", value: { mode: "fixed", fixedColor: "purple" } }] },
        { matcher: { id: "byType", options: "number" }, properties: [{ id: "min", value: 0 }] },
        { matcher: { id: "byValue", options: { reducer: "max", op: "gte", value: 100 } }, properties: [{ id: "custom.hideFrom", value: { viz: true, legend: false, tooltip: false } }] },
        { matcher: { id: "byName", options: "cpu" }, properties: [{ id: "decimals", value: 3 }] },
      ],
    },
  };
  const cpu = resolveField(panel, frame("cpu", [0.5]));
  assert.deepEqual([cpu.unit, cpu.decimals, cpu.custom.fillOpacity, cpu.custom.lineWidth, cpu.min, cpu.hidden], ["percentunit", 3, 50, 1, 0, false]);
  assert.equal(cpu.format(0.5), "50.000%");
  const mem = resolveField(panel, frame("mem used", [1], {}, "B"));
  assert.deepEqual([mem.unit, mem.custom.transform, mem.color, mem.colorMode], ["bytes", "negative-Y", cssColor("purple"), "fixed"]);
  const big = resolveField(panel, frame("big", [5, 150]));
  assert.equal(big.hidden, true);
  // The defaults object is not modified by overrides.
  assert.equal(panel.fieldConfig?.defaults?.custom?.fillOpacity, 10);
  // "byRegexp" without slashes must match the whole name.
  const whole: GrafanaPanel = { type: "stat", fieldConfig: { defaults: {}, overrides: [{ matcher: { id: "byRegexp", options: "mem" }, properties: [{ id: "unit", value: "s" }] }] } };
  assert.equal(resolveField(whole, frame("mem used", [1])).unit, "none"); // Grafana's default unit
  assert.equal(resolveField(whole, frame("mem", [1])).unit, "s");
});

test("displayName interpolates field labels and the series name", () => {
  const f = frame("up{job=\"a\"}", [1], { __name__: "up", job: "node", instance: "h:9100" });
  assert.equal(interpolateDisplayName("${__field.labels.job} @ ${__field.labels.instance}", f), "node @ h:9100");
  assert.equal(interpolateDisplayName("${__series.name}!", f), "up{job=\"a\"}!");
  assert.equal(interpolateDisplayName("${__field.labels}", f), '{job="node", instance="h:9100"}');
  assert.equal(interpolateDisplayName("${__field.labels.missing}-", f), "-");
  const panel: GrafanaPanel = {
    type: "stat",
    fieldConfig: { defaults: {}, overrides: [{ matcher: { id: "byName", options: "A-series" }, properties: [{ id: "displayName", value: "Job ${__field.labels.job}" }] }] },
  };
  assert.equal(resolveField(panel, frame("A-series", [1], { job: "<img src=x onerror=alert(1)>" })).name, "Job <img src=x onerror=alert(1)>");
});

test("value mappings: value, range, regex, special; new and legacy formats", () => {
  const mappings = normaliseMappings([
    { type: "value", options: { "1": { text: "Up", color: "green" }, "0": { text: "Down", color: "red" } } },
    { type: "range", options: { from: 10, to: 20, result: { text: "teens" } } },
    { type: "regex", options: { pattern: "/^4\\d$/", result: { text: "forties" } } },
    { type: "special", options: { match: "null", result: { text: "N/A", color: "gray" } } },
    { type: "special", options: { match: "nan", result: { text: "not a number" } } },
  ]);
  assert.deepEqual(mapValue(mappings, 1), { text: "Up", color: "green" });
  assert.deepEqual(mapValue(mappings, 15), { text: "teens", color: undefined });
  assert.deepEqual(mapValue(mappings, 42), { text: "forties", color: undefined });
  assert.deepEqual(mapValue(mappings, null), { text: "N/A", color: "gray" });
  assert.deepEqual(mapValue(mappings, NaN), { text: "not a number", color: undefined });
  assert.equal(mapValue(mappings, 7), null);
  const legacy = normaliseMappings([{ id: 0, type: 1, value: "2", text: "two" }, { id: 1, type: 2, from: "100", to: "200", text: "hundreds" }, { type: 1, value: "null", text: "none" }]);
  assert.equal(mapValue(legacy, 2)?.text, "two");
  assert.equal(mapValue(legacy, 150)?.text, "hundreds");
  assert.equal(mapValue(legacy, null)?.text, "none");
});

test("display: mapping text replaces the formatted value, its colour the threshold's", () => {
  const panel: GrafanaPanel = {
    type: "stat",
    fieldConfig: { defaults: { unit: "bytes", mappings: [{ type: "value", options: { "0": { text: "empty", color: "blue" } } }], noValue: "nothing" } },
  };
  const f = resolveField(panel, frame("x", [1536]));
  // displayProcessor.ts: without configured decimals the trailing zeros go ("1.50 KiB" → "1.5 KiB").
  assert.deepEqual(f.display(1536), { text: "1.5", prefix: "", suffix: " KiB", numeric: 1536, color: cssColor("red"), percent: 1 });
  assert.equal(f.format(1536), "1.5 KiB");
  assert.equal(f.display(NaN).text, "NaN"); // Grafana's default thresholds: red from 80
  assert.equal(f.display(0).text, "empty");
  assert.equal(f.display(0).color, cssColor("blue"));
  assert.equal(f.display(null).text, "nothing");
});

test("legacy graph and singlestat fields without fieldConfig", () => {
  const graph: GrafanaPanel = {
    type: "graph",
    yaxes: [{ format: "bytes", decimals: 2, min: "0" }, { format: "percentunit" }],
    seriesOverrides: [{ alias: "/errors/", yaxis: 2 }],
  };
  assert.equal(resolveField({ type: "graph" }, frame("x", [1])).unit, "short"); // the graph panel's default
  const used = resolveField(graph, frame("memory used", [1]));
  assert.deepEqual([used.unit, used.decimals, used.min], ["bytes", 2, 0]);
  assert.equal(resolveField(graph, frame("http errors", [1])).unit, "percentunit");
  const single: GrafanaPanel = { type: "singlestat", format: "percent", decimals: 1, thresholds: "80,90", colors: ["#299c46", "rgba(237, 129, 40, 0.89)", "#d44a3a"], valueMaps: [{ value: "null", op: "=", text: "N/A" }] };
  const s = resolveField(single, frame("x", [85]));
  assert.equal(s.format(85), "85.0%");
  assert.equal(s.display(85).color, "rgba(237, 129, 40, 0.89)");
  assert.equal(s.display(95).color, "#d44a3a");
  assert.equal(s.display(null).text, "N/A");
});

test("colours: Grafana names, CSS colours, and nothing else reaches a style", () => {
  assert.equal(cssColor("semi-dark-red"), "#E02F44");
  assert.equal(cssColor("green"), "#73BF69");
  assert.equal(cssColor("#abc"), "#abc");
  assert.equal(cssColor("rgba(1, 2, 3, 0.5)"), "rgba(1, 2, 3, 0.5)");
  assert.equal(cssColor("red; background: url(javascript:alert(1))"), "var(--muted)");
  assert.equal(cssColor("expression(alert(1))"), "var(--muted)");
});

test("dataRange: global min/max, widened for a single value", () => {
  assert.deepEqual(dataRange([frame("a", [1, 5]), frame("b", [null, -2])]), { min: -2, max: 5 });
  assert.deepEqual(dataRange([frame("a", [7])]), { min: 0, max: 7 });
  assert.equal(dataRange([frame("a", [null])]), undefined);
});

test("stripZeros: only automatic decimals, only plain decimal numbers", () => {
  const cases: [string, number | null, string][] = [
    ["1.50", null, "1.5"], ["2.00", null, "2"], ["25.3", null, "25.3"], ["1.50", 2, "1.50"],
    ["-0.500", null, "-0.5"], ["1,234.50", null, "1,234.50"], ["1 hour", null, "1 hour"], ["1e+21", null, "1e+21"],
  ];
  for (const [text, decimals, want] of cases) assert.equal(stripZeros(text, decimals), want, text);
});
