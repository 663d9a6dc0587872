// The service map's graph from the service-graph series: edges with rates and failures, and
// the layered layout (callers left, cycles not breaking it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Edge, edgesOf, formatErrorRate, formatRate, layout } from "../src/traces_graph";

const sample = (client: string, server: string, v: number) => ({ metric: { client, server }, value: [0, String(v)] as [number, string] });

test("edges: requests per pair with their failures, busiest first", () => {
  const edges = edgesOf(
    [sample("web", "shop", 2), sample("shop", "postgres", 5), { metric: { server: "x" }, value: [0, "1"] as [number, string] }],
    [sample("shop", "postgres", 0.5)],
  );
  assert.deepEqual(edges, [
    { client: "shop", server: "postgres", rate: 5, failed: 0.5 },
    { client: "web", server: "shop", rate: 2, failed: 0 },
  ]);
});

const edge = (client: string, server: string): Edge => ({ client, server, rate: 1, failed: 0 });

test("layers by longest path from the callers; a layer ordered by its callers' rows", () => {
  const graph = layout([edge("web", "shop"), edge("web", "auth"), edge("shop", "auth"), edge("shop", "db"), edge("batch", "db")]);
  assert.deepEqual(
    graph.nodes.map((n) => [n.name, n.layer, n.row]),
    [
      ["auth", 2, 1],
      ["batch", 0, 0],
      ["db", 2, 0],
      ["shop", 1, 0],
      ["web", 0, 1],
    ],
  );
});

test("a cycle and a self-call still lay out, the callee of the cycle's entry one layer right", () => {
  const graph = layout([edge("a", "b"), edge("b", "a"), edge("b", "b")]);
  assert.deepEqual(
    graph.nodes.map((n) => [n.name, n.layer]),
    [
      ["a", 0],
      ["b", 1],
    ],
  );
});

test("rates and error rates as the map prints them", () => {
  assert.deepEqual([0, 0.0512, 12.345, 250.4].map(formatRate), ["0/s", "0.0512/s", "12.3/s", "250/s"]);
  assert.deepEqual(
    [
      [0, 0],
      [10, 0],
      [10, 2.5],
      [10000, 1],
    ].map(([r, f]) => formatErrorRate(r, f)),
    ["", "0%", "25%", "<0.1%"],
  );
});
