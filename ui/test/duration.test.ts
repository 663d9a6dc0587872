// Prometheus durations as the UI reads and writes them: the grammar Prometheus's
// model.ParseDuration accepts (units descending, each at most once) and its spelling.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../src/duration";
import { parseSeconds } from "../src/query/time";

const PARSED: [text: string, ms: number | null][] = [
  ["1h30m", 5_400_000],
  ["90m", 5_400_000],
  ["15s", 15_000],
  ["100ms", 100],
  ["1y2w3d4h5m6s7ms", 33_019_506_007],
  [" 2h ", 7_200_000],
  ["1m1h", null],
  ["1m1m", null],
  ["1.5s", null],
  ["15", null],
  ["0s", null],
  ["", null],
  ["1H", null],
];

test("parseDuration takes what Prometheus takes", () => {
  assert.deepEqual(PARSED.map(([text]) => parseDuration(text)), PARSED.map(([, ms]) => ms));
});

test("formatDuration spells as Prometheus does", () => {
  const cases: [number, string][] = [[5_400_000, "1h30m"], [0, "0s"], [-5, "0s"], [NaN, "0s"], [1500.4, "1s500ms"], [86_400_000 * 8, "1w1d"]];
  assert.deepEqual(cases.map(([ms]) => formatDuration(ms)), cases.map(([, text]) => text));
});

test("the graph page also takes bare seconds, as the API does", () => {
  const cases: [string, number | null][] = [["15", 15], ["1.5", 1.5], ["1m", 60], ["0", null], ["1m1h", null]];
  assert.deepEqual(cases.map(([text]) => parseSeconds(text)), cases.map(([, s]) => s));
});
