// The Logs page's LogQL completions: label names in a selector (narrowed by its other
// matchers), a label's values after each matcher operator, pipeline stages after `|`, and
// functions elsewhere; nothing inside a line filter's string or a range.
import "./browser-globals";
import { test } from "node:test";
import assert from "node:assert/strict";
import { type LogLabelSources, logqlCompleter, scopeBefore } from "../src/logs_complete";

const calls: string[] = [];
const sources = {
  labelNames: async (scope: string) => {
    calls.push(`names ${scope}`);
    return ["container", "host", "service_name"];
  },
  labelValues: async (name: string, scope: string) => {
    calls.push(`values ${name} ${scope}`);
    return ["shop", 'we"ird'];
  },
} as unknown as LogLabelSources;
const complete = logqlCompleter(sources);

async function offered(text: string, cursor = text.length): Promise<[number, string[]] | null> {
  const found = await complete(text, cursor);
  return found && [found.from, found.items.map((s) => s.insert)];
}

test("label names after { and after a comma, narrowed by the matchers before", async () => {
  calls.length = 0;
  assert.deepEqual(await offered("{"), [1, ["container", "host", "service_name"]]);
  assert.deepEqual(await offered('{host="vm1", con'), [13, ["container"]]);
  assert.deepEqual(calls, ["names ", 'names {host="vm1"}']);
});

test("a label's values after =, !=, =~ and !~, escaped for the quote they go in", async () => {
  for (const op of ["=", "!=", "=~", "!~"]) {
    calls.length = 0;
    const text = `{host="vm1", container${op}"`;
    assert.deepEqual(await offered(text), [text.length, ["shop", 'we\\"ird']]);
    assert.deepEqual(calls, ['values container {host="vm1"}']);
  }
  assert.deepEqual(await offered("{container=`"), [12, ["shop", 'we"ird']]);
});

test("stages after a pipe, functions and aggregations elsewhere, by prefix", async () => {
  assert.deepEqual(await offered('{container="shop"} | js'), [21, ["json"]]);
  assert.deepEqual(await offered("count_o"), [0, ["count_over_time"]]);
  assert.deepEqual(await offered("sum by (ho"), [8, ["host"]]);
});

test("nothing in a line filter's string, a range or after a bare pipe", async () => {
  assert.equal(await offered('{container="shop"} |= "err'), null);
  assert.equal(await offered('count_over_time({container="shop"}[5'), null);
  assert.equal(await offered('{container="shop"} | '), null);
});

test("the scope keeps complete name=\"value\" matchers only, but the one being completed", () => {
  assert.equal(scopeBefore('{a="1", b=~"x.*", c="", d="4", a', 31, ""), '{a="1", d="4"}');
  assert.equal(scopeBefore('{a="1", b="', 11, "b"), '{a="1"}');
  assert.equal(scopeBefore('{a="1"} |= "x"', 14, ""), "");
});
