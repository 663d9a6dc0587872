// Grafana's time navigation on a dashboard's range: zoom out doubles the span around its
// centre, a shift moves half a span, and a range reaching past now becomes "the last <span>".
import { test } from "node:test";
import assert from "node:assert/strict";
import { rangeOf, resolveRange, shiftRange, zoomOut } from "../src/dashboards/time";

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const H = 3_600_000;

test("zoom out doubles the span; one reaching now stays relative", () => {
  const last = resolveRange("now-1h", "now", NOW);
  assert.deepEqual(zoomOut(last, NOW), { from: "now-2h", to: "now" });
  const past = resolveRange(String(NOW - 10 * H), String(NOW - 8 * H), NOW);
  assert.deepEqual(zoomOut(past, NOW), { from: String(NOW - 11 * H), to: String(NOW - 7 * H) });
  assert.deepEqual(zoomOut(resolveRange("now-90m", "now", NOW), NOW), { from: "now-3h", to: "now" });
});

test("a shift moves half the span, and back to now keeps the span", () => {
  const last = resolveRange("now-1h", "now", NOW);
  assert.deepEqual(shiftRange(last, -1, NOW), { from: String(NOW - 1.5 * H), to: String(NOW - 0.5 * H) });
  assert.deepEqual(shiftRange(last, 1, NOW), { from: "now-1h", to: "now" });
  const back = resolveRange(String(NOW - 1.5 * H), String(NOW - 0.5 * H), NOW);
  assert.deepEqual(shiftRange(back, 1, NOW), { from: "now-1h", to: "now" });
});

test("rangeOf spells spans in the largest whole unit", () => {
  const cases: [number, string][] = [[7 * 86_400_000, "now-1w"], [2 * 86_400_000, "now-2d"], [90 * 60_000, "now-90m"], [61_000, "now-61s"]];
  assert.deepEqual(cases.map(([span]) => rangeOf(NOW - span, NOW, NOW).from), cases.map(([, text]) => text));
});
