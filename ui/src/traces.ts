// The Traces page: search (/traces), the service map (/traces/map), slow SQL (/traces/sql) and
// one trace's waterfall (/traces/<trace id>), over vigil's Tempo and Jaeger APIs, the
// service-graph series and the slow-SQL API.
import { h } from "./dom";
import { type Route, navigate, setParams } from "./router";
import { showMap } from "./traces_map";
import { showSlowSQL } from "./traces_sql";
import { RANGES, searchView } from "./traces_search";
import { traceHref } from "./traces_links";
import { showTrace } from "./traces_waterfall";

const VIEWS: [string, string][] = [
  ["/traces", "Search"],
  ["/traces/map", "Service map"],
  ["/traces/sql", "Slow SQL"],
];
type Show = (root: HTMLElement, range: string, current: () => boolean) => Promise<void>;
/** The views over a window ending now, and the ranges each offers (slow SQL keeps 24h). */
const WINDOWED = new Map<string, [Show, string, string[]]>([
  ["map", [showMap, "map-area", RANGES.map(([name]) => name)]],
  ["sql", [showSlowSQL, "sql-area", ["15m", "1h", "6h", "24h"]]],
]);
const TRACE_ID = /^[0-9a-f]{1,32}$/i;

function tabs(path: string): HTMLElement {
  return h(
    "nav",
    { class: "tabs traces-tabs", "aria-label": "Traces views" },
    VIEWS.map(([href, text]) => h("a", { href, class: "tab", "aria-current": href === path ? "page" : null }, text)),
  );
}

/** Opens a trace by id: the way to a trace id copied from a log line. */
function openById(): HTMLFormElement {
  const input = h("input", { type: "text", class: "mono", name: "id", placeholder: "trace ID", spellcheck: "false", autocomplete: "off", "aria-label": "Trace ID" });
  const form = h("form", { class: "traces-open" }, input, h("button", { type: "submit" }, "Open trace"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = input.value.trim().toLowerCase();
    if (TRACE_ID.test(id)) return navigate(traceHref(id));
    input.setCustomValidity("A trace ID is up to 32 hexadecimal digits");
    input.reportValidity();
  });
  input.addEventListener("input", () => input.setCustomValidity(""));
  return form;
}

function windowedView(root: HTMLElement, route: Route, [show, area, ranges]: [Show, string, string[]]): () => void {
  const initial = route.params.get("range") ?? "1h";
  const range = h("select", { "aria-label": "Time range" }, ranges.map((name) => h("option", { value: name, selected: name === initial }, `Last ${name}`)));
  const el = h("div", { class: area, "data-state": "idle", "aria-live": "polite" });
  let generation = 0;
  const draw = (): void => {
    const mine = ++generation;
    void show(el, range.value, () => mine === generation);
  };
  range.addEventListener("change", () => {
    setParams(new URLSearchParams({ range: range.value }), true);
    draw();
  });
  root.append(h("div", { class: "toolbar" }, range), el);
  draw();
  return () => {
    generation++;
  };
}

export function tracesPage(root: HTMLElement, route: Route): () => void {
  const id = route.args[0] ?? "";
  const windowed = WINDOWED.get(id);
  if (id && !windowed) {
    const area = h("div", { class: "trace-area", "data-state": "idle", "aria-live": "polite" });
    root.append(tabs(route.path), area);
    let live = true;
    void showTrace(area, id.toLowerCase(), () => live);
    return () => {
      live = false;
    };
  }
  root.append(h("div", { class: "page-head" }, h("h1", null, "Traces"), openById()), tabs(route.path));
  return windowed ? windowedView(root, route, windowed) : searchView(root, route.params);
}
