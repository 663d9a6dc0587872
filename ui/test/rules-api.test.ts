// The Alerts and Rules pages' wording: values as Prometheus's UI prints them, and vigil's own
// rule files by name instead of an install path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatValue, ruleFileName } from "../src/pages/rules-api";

test("values print as the shortest decimal, not Go's %e", () => {
  const cases: [string, string][] = [
    ["8.5e+01", "85"], ["9.1234567890e-01", "0.9123456789"], ["1e+00", "1"], ["0", "0"],
    ["NaN", "NaN"], ["+Inf", "+Inf"], ["-Inf", "-Inf"], ["1.5e+21", "1.5e+21"], ["", ""],
  ];
  assert.deepEqual(cases.map(([v]) => formatValue(v)), cases.map(([, want]) => want));
});

test("built-in rule files are named, other files kept as written", () => {
  assert.equal(ruleFileName("/work/.venv/lib/python3.11/site-packages/vigil/rules/default/host.yml"), "built-in: host");
  assert.equal(ruleFileName("/srv/vigil/src/vigil/rules/default/containers.yaml"), "built-in: containers");
  assert.equal(ruleFileName("/srv/vigil/src/vigil/rules/default/logs/containers.yml"), "built-in: logs/containers");
  assert.equal(ruleFileName("C:\\vigil\\rules\\default\\logs\\containers.yml"), "built-in: logs/containers");
  assert.equal(ruleFileName("/srv/vigil/rules/default/other/x.yml"), "/srv/vigil/rules/default/other/x.yml");
  assert.equal(ruleFileName("rules/host.yml"), "rules/host.yml");
});
