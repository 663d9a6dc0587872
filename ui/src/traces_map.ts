// The service map: services as boxes and their calls as arrows, from the service-graph series
// span metrics write (traces_service_graph_request_total and _failed_total, per client and
// server) over the chosen range, drawn as SVG, with the same calls in a table below it.
import { queryInstant } from "./api";
import type { QueryData } from "./api/types/query";
import { h, notice, replace } from "./dom";
import { type Edge, type Graph, type Node, type Sample, edgesOf, formatErrorRate, formatRate, layout } from "./traces_graph";
import { searchHref } from "./traces_links";

const NS = "http://www.w3.org/2000/svg";
const BOX_W = 170;
const BOX_H = 46;
const COL = 320;
const ROW = 86;
const PAD = 24;

export function graphQueries(range: string): [string, string] {
  return [
    `sum by (client, server) (rate(traces_service_graph_request_total[${range}]))`,
    `sum by (client, server) (rate(traces_service_graph_request_failed_total[${range}]))`,
  ];
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: (SVGElement | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

function position(node: Node): [number, number] {
  return [PAD + node.layer * COL, PAD + node.row * ROW];
}

function edgePath(from: Node, to: Node): { d: string; x: number; y: number } {
  const [fx, fy] = position(from);
  const [tx, ty] = position(to);
  if (from === to) {
    const x = fx + BOX_W / 2;
    const y = fy + BOX_H;
    return { d: `M${x - 20},${y} C${x - 30},${y + 40} ${x + 30},${y + 40} ${x + 20},${y}`, x, y: y + 34 };
  }
  if (to.layer > from.layer) {
    const [x1, y1, x2, y2] = [fx + BOX_W, fy + BOX_H / 2, tx, ty + BOX_H / 2];
    const mid = (x1 + x2) / 2;
    return { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, x: mid, y: (y1 + y2) / 2 - 6 };
  }
  const [x1, y1, x2, y2] = [fx + BOX_W / 2, fy + BOX_H, tx + BOX_W / 2, ty + BOX_H];
  const low = Math.max(y1, y2) + ROW / 2;
  return { d: `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`, x: (x1 + x2) / 2, y: low - 4 };
}

function edgeLabel(e: Edge): string {
  const err = formatErrorRate(e.rate, e.failed);
  return e.failed > 0 ? `${formatRate(e.rate)} · ${err} err` : formatRate(e.rate);
}

function drawing(graph: Graph): SVGSVGElement {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const width = PAD * 2 + Math.max(...graph.nodes.map((n) => n.layer)) * COL + BOX_W;
  const height = PAD * 2 + Math.max(...graph.nodes.map((n) => n.row)) * ROW + BOX_H + ROW / 2;
  const edges = graph.edges.map((e) => {
    const from = byName.get(e.client) as Node;
    const to = byName.get(e.server) as Node;
    const { d, x, y } = edgePath(from, to);
    return svg(
      "g",
      { class: e.failed > 0 ? "map-edge failing" : "map-edge" },
      svg("path", { d, "marker-end": "url(#map-arrow)" }),
      svg("text", { x, y, "text-anchor": "middle" }, edgeLabel(e)),
    );
  });
  const nodes = graph.nodes.map((n) => {
    const [x, y] = position(n);
    const stats = n.rate > 0 ? `${formatRate(n.rate)}${n.failed > 0 ? ` · ${formatErrorRate(n.rate, n.failed)} err` : ""}` : "caller";
    return svg(
      "a",
      { href: searchHref(n.name), class: n.failed > 0 ? "map-node failing" : "map-node", "aria-label": `${n.name}: ${stats}; search its traces`, "data-service": n.name },
      svg("rect", { x, y, width: BOX_W, height: BOX_H, rx: 6 }),
      svg("text", { x: x + 10, y: y + 19, class: "map-name" }, n.name.length > 22 ? `${n.name.slice(0, 21)}…` : n.name),
      svg("text", { x: x + 10, y: y + 36, class: "map-stats" }, stats),
    );
  });
  return svg(
    "svg",
    { class: "service-map", width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": "Service map" },
    svg(
      "defs",
      {},
      svg("marker", { id: "map-arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z" })),
    ),
    ...edges,
    ...nodes,
  );
}

function callTable(edges: Edge[]): HTMLTableElement {
  return h(
    "table",
    { class: "data map-calls" },
    h("caption", { class: "muted" }, "Calls between services"),
    h("thead", null, h("tr", null, ["Client", "Server", "Requests", "Failed", "Error rate"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      edges.map((e) =>
        h(
          "tr",
          null,
          h("td", null, h("a", { href: searchHref(e.client) }, e.client)),
          h("td", null, h("a", { href: searchHref(e.server) }, e.server)),
          h("td", { class: "num" }, formatRate(e.rate)),
          h("td", { class: "num" }, formatRate(e.failed)),
          h("td", { class: e.failed > 0 ? "num failing" : "num" }, formatErrorRate(e.rate, e.failed)),
        ),
      ),
    ),
  );
}

/** Draws the map over the last `range` (a PromQL duration) into `root`. */
export async function showMap(root: HTMLElement, range: string, current: () => boolean): Promise<void> {
  root.dataset.state = "loading";
  try {
    // Both at one instant: rate() extrapolates to the evaluation time, so two "now"s a few ms
    // apart would give an error share that is not failed/total.
    const at = Date.now() / 1000;
    const [requests, failed] = await Promise.all(graphQueries(range).map((q) => queryInstant(q, at)));
    if (!current()) return;
    const vector = (data: QueryData): Sample[] => (data.resultType === "vector" ? data.result : []);
    const edges = edgesOf(vector(requests), vector(failed));
    if (!edges.length) {
      replace(
        root,
        notice(
          "info",
          h("b", null, "No calls between services in this range. "),
          "The map is drawn from ",
          h("code", null, "traces_service_graph_request_total"),
          ", which vigil's span metrics count when a client span in one service and the server span it called in another both arrive (or a client span names its database with ",
          h("code", null, "db.system"),
          ").",
        ),
      );
      root.dataset.state = "empty";
      return;
    }
    const graph = layout(edges);
    replace(root, h("div", { class: "map-scroll" }, drawing(graph)), callTable(edges));
    root.dataset.state = "done";
  } catch (err) {
    if (!current()) return;
    replace(root, notice("error", `Could not load the service graph: ${err instanceof Error ? err.message : String(err)}`));
    root.dataset.state = "error";
  }
}
