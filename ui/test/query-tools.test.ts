// The Query page's tools: what each word of PromQL is drawn as, which characters a
// `L:C: parse error` message points at (Prometheus counts bytes), the history, the explorer.
import "./browser-globals";
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Sources, suggest } from "../src/query/autocomplete";
import { errorSpan, tokenize } from "../src/query/highlight";
import { filterMetrics, metricInfos } from "../src/query/explorer";
import { HISTORY_MAX, loadHistory, remember } from "../src/query/history";

function kinds(text: string): string[] {
  return tokenize(text)
    .filter((t) => t.kind !== "space")
    .map((t) => `${t.kind}:${text.slice(t.from, t.to)}`);
}

test("words are told apart as PromQL reads them", () => {
  assert.deepEqual(kinds('sum by (job, on) (rate(http_requests_total{code=~"5.."}[5m])) > 0.5 # x'), [
    "aggregation:sum", "keyword:by", "punctuation:(", "label:job", "punctuation:,", "label:on",
    "punctuation:)", "punctuation:(", "function:rate", "punctuation:(", "metric:http_requests_total",
    "punctuation:{", "label:code", "operator:=~", 'string:"5.."', "punctuation:}", "punctuation:[",
    "duration:5m", "punctuation:]", "punctuation:)", "punctuation:)", "operator:>", "number:0.5",
    "comment:# x",
  ]);
  assert.deepEqual(kinds("sum + count offset 1h30m"), ["metric:sum", "operator:+", "metric:count", "keyword:offset", "duration:1h30m"]);
});

test("the tokens cover the text whole, unfinished strings too", () => {
  for (const text of ['x{a="b', "rate(x[5m", "é + `raw", "1e3 @ start()"]) {
    const tokens = tokenize(text);
    assert.equal(tokens.map((t) => text.slice(t.from, t.to)).join(""), text);
  }
});

test("an error position is the token Prometheus names, columns in bytes", () => {
  const text = 'sum by (a b) (x)';
  assert.deepEqual(errorSpan('1:11: parse error: unexpected identifier "b"', text), { from: 10, to: 11 });
  assert.deepEqual(errorSpan('invalid parameter "query": 1:6: parse error: x', '"é" foo'), { from: 4, to: 7 });
  assert.deepEqual(errorSpan("2:3: parse error: unexpected end of input", "x +\n  "), { from: 6, to: 6 });
  assert.equal(errorSpan("parse error: no position", text), null);
  assert.equal(errorSpan("3:1: parse error: past the text", text), null);
});

class MemoryStorage {
  items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

test("history keeps each query once, newest first, at most HISTORY_MAX", () => {
  const storage = new MemoryStorage() as unknown as Storage;
  remember("up", storage);
  remember("rate(x[5m])", storage);
  remember("  up ", storage);
  remember("", storage);
  assert.deepEqual(loadHistory(storage), ["up", "rate(x[5m])"]);
  for (let i = 0; i < HISTORY_MAX + 10; i++) remember(`q${i}`, storage);
  assert.equal(loadHistory(storage).length, HISTORY_MAX);
  assert.equal(loadHistory(storage)[0], `q${HISTORY_MAX + 9}`);
  (storage as unknown as MemoryStorage).setItem("vigil.query.history", "{garbled");
  assert.deepEqual(loadHistory(storage), []);
});

test("the explorer joins names with metadata and searches name and help", () => {
  const metrics = metricInfos(["up", "node_load1", "process_cpu_seconds_total"], {
    node_load1: [{ type: "gauge", help: "1m load average.", unit: "" }],
    process_cpu_seconds: [{ type: "counter", help: "Total user and system CPU time.", unit: "" }],
    scrape_samples: [{ type: "gauge", help: "Samples scraped.", unit: "" }],
  });
  assert.deepEqual(metrics.map((m) => [m.name, m.type]), [
    ["node_load1", "gauge"], ["process_cpu_seconds_total", "counter"], ["scrape_samples", "gauge"], ["up", ""],
  ]);
  assert.deepEqual(filterMetrics(metrics, "LOAD average").map((m) => m.name), ["node_load1"]);
  assert.deepEqual(filterMetrics(metrics, "cpu time").map((m) => m.name), ["process_cpu_seconds_total"]);
});

test("completions of metric names carry their TYPE and HELP", async () => {
  const sources = {
    metricNames: async () => ["node_cpu_seconds_total", "node_load1", "node_boot_time"],
    metadata: async () => ({
      node_cpu_seconds: [{ type: "counter", help: "Seconds the CPUs spent in each mode.", unit: "" }],
      node_load1: [{ type: "gauge", help: "1m load average.", unit: "" }],
    }),
  } as unknown as Sources;
  const found = await suggest({ kind: "expr", prefix: "node_", from: 0 }, sources);
  assert.deepEqual(
    found.map((s) => [s.text, s.type, s.help]),
    [
      ["node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode."],
      ["node_load1", "gauge", "1m load average."],
      ["node_boot_time", undefined, undefined],
    ],
  );
});
