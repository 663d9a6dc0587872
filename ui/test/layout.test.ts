// The grid's key: a dashboard whose variables finish loading keeps its panels (and their
// queries) unless what they show or send changed.
import "./browser-globals";
import { test } from "node:test";
import assert from "node:assert/strict";
import { layout, layoutKey } from "../src/dashboards/layout";
import { resolveRange } from "../src/dashboards/time";
import { type Variable, parseVariables, variableScope } from "../src/dashboards/variables";
import type { GrafanaPanel } from "../src/dashboards/types";

const RANGE = resolveRange("now-1h", "now", Date.UTC(2026, 11, 7, 12));

function all(allValue?: string): Variable[] {
  const list = [{ type: "query", name: "c", query: "label_values(up, name)", includeAll: true, multi: true, current: { value: ["$__all"] }, ...(allValue ? { allValue } : {}) }];
  return parseVariables(list, new URLSearchParams());
}

function key(panels: GrafanaPanel[], vars: Variable[]): string {
  return layoutKey(layout(panels, vars), variableScope(vars, RANGE));
}

const PANEL: GrafanaPanel = { type: "timeseries", title: "Memory", gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ refId: "A", expr: 'mem{name=~"$c"}' }] };

test("All with a custom allValue: loading the options changes nothing drawn", () => {
  const vars = all(".+");
  const before = key([PANEL], vars);
  vars[0].options = [{ text: "a", value: "a" }, { text: "b", value: "b" }];
  assert.equal(key([PANEL], vars), before);
});

test("All without an allValue: the options are the query, so loading them changes it", () => {
  const vars = all();
  const before = key([PANEL], vars);
  vars[0].options = [{ text: "a", value: "a" }];
  assert.notEqual(key([PANEL], vars), before);
});

test("a panel repeated by the variable: loading the options adds its copies", () => {
  const vars = all(".+");
  const repeated = { ...PANEL, repeat: "c" };
  const before = key([repeated], vars);
  vars[0].options = [{ text: "a", value: "a" }, { text: "b", value: "b" }];
  assert.notEqual(key([repeated], vars), before);
});
