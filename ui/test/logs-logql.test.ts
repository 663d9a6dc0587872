// What the Logs page reads from a LogQL query: selector, line filter literals, an added matcher,
// and a line cut around its matches.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lineFilterLiterals, markMatches, selectorOf, withMatcher } from "../src/logs_logql";

test("the selector is the first braces outside strings", () => {
  assert.equal(selectorOf('{app="a}b", env=~".+"} |= "{x}" | json'), '{app="a}b", env=~".+"}');
  assert.equal(selectorOf('sum(count_over_time({job="x"}[1m]))'), '{job="x"}');
  assert.equal(selectorOf("nothing"), "{}");
});

test("line filter literals: both quotes, escapes, not != or |~", () => {
  assert.deepEqual(
    lineFilterLiterals('{a="|= \\"no\\""} |= "db \\"x\\"" != "skip" |~ "re" |= `raw\\n` |= ""'),
    ['db "x"', "raw\\n"],
  );
});

test("a matcher goes into the selector once", () => {
  const cases: [string, string][] = [
    ['{service_name=~".+"} |= "x"', '{service_name=~".+", service_name="api"} |= "x"'],
    ["{}", '{service_name="api"}'],
    ["", '{service_name="api"}'],
    ['{service_name="api"}', '{service_name="api"}'],
  ];
  for (const [query, want] of cases) assert.equal(withMatcher(query, "service_name", "api"), want, query);
  assert.equal(withMatcher("{}", "msg", 'say "hi"'), '{msg="say \\"hi\\""}');
});

test("matches are cut out of the line, earliest and longest first", () => {
  assert.deepEqual(markMatches("db down, db up", ["db"]), [["db", true], [" down, ", false], ["db", true], [" up", false]]);
  assert.deepEqual(markMatches("abc", ["b", "bc"]), [["a", false], ["bc", true]]);
  assert.deepEqual(markMatches("abc", []), [["abc", false]]);
  assert.deepEqual(markMatches("", ["x"]), [["", false]]);
});
