// The Query editor's completions with Prometheus 3's UTF-8 names: a dotted metric name is
// offered as {"my.metric"}, a dotted label name quoted, and a quoted name before the cursor
// is read as the metric or label it names.
import "./browser-globals";
import { test } from "node:test";
import assert from "node:assert/strict";
import { contextAt, labelName, metricSelector, suggest, type Sources } from "../src/query/autocomplete";

const calls: string[] = [];
const sources = {
  metricNames: async () => ["http.requests_total", "up"],
  metadata: async () => ({}),
  labelNames: async (metric: string) => {
    calls.push(`labels ${metric}`);
    return ["__name__", "http.route", "job"];
  },
  labelValues: async (label: string, metric: string) => {
    calls.push(`values ${label} ${metric}`);
    return ['/pay "now"'];
  },
} as unknown as Sources;

test("names are written bare or quoted as PromQL needs", () => {
  assert.deepEqual(
    ["up", "node:cpu", "http.requests_total", 'a"b'].map(metricSelector),
    ["up", "node:cpu", '{"http.requests_total"}', '{"a\\"b"}'],
  );
  assert.deepEqual(["job", "http.route", "9lives"].map(labelName), ["job", '"http.route"', '"9lives"']);
});

test("a dotted metric name is offered in braces", async () => {
  const offered = await suggest(contextAt("sum(htt", 7), sources);
  assert.deepEqual(offered.map((s) => s.insert), ['{"http.requests_total"}']);
});

test("label names inside quoted-name braces are offered quoted, for that metric", async () => {
  calls.length = 0;
  const text = '{"http.requests_total", ';
  const ctx = contextAt(text, text.length);
  assert.deepEqual(ctx, { kind: "label", metric: "http.requests_total", prefix: "", from: text.length });
  const offered = await suggest(ctx, sources);
  assert.deepEqual(offered.map((s) => s.insert), ['"http.route"', "job"]);
  assert.deepEqual(calls, ['labels {"http.requests_total"}']);
});

test("values of a quoted label name are looked up under that name", async () => {
  calls.length = 0;
  const text = '{"http.requests_total", "http.route"="/p';
  const ctx = contextAt(text, text.length);
  assert.deepEqual(ctx, {
    kind: "value",
    metric: "http.requests_total",
    label: "http.route",
    prefix: "/p",
    from: text.length - 2,
    quote: '"',
  });
  const offered = await suggest(ctx, sources);
  assert.deepEqual(offered.map((s) => s.insert), ['/pay \\"now\\"']);
  assert.deepEqual(calls, ['values http.route {"http.requests_total"}']);
});
