// The Status page: Prometheus's status pages in one — build and runtime information, command-line
// flags (filterable), the loaded configuration, TSDB statistics and the persisted blocks.
import { type Child, append, h, notice, replace } from "./dom";
import { formatDuration } from "./duration";
import { getJSON, promGet } from "./api";
import type { AMStatus } from "./api/types/am-status";
import type { Delivery } from "./api/types/delivery";
import type { Block, NameValue, TSDBStatus } from "./api/types/status-tsdb";
import { type Route, setParams } from "./router";
import { bytes, errorText, jumpLink, relative, absTime, searchBox } from "./pages/common";
import { routingView } from "./pages/routing";

const SECTIONS: [string, string][] = [
  ["status-build", "Build information"],
  ["status-runtime", "Runtime information"],
  ["status-alertmanager", "Alertmanager"],
  ["status-flags", "Command-line flags"],
  ["status-config", "Configuration"],
  ["status-tsdb", "TSDB statistics"],
  ["status-blocks", "Blocks"],
];

function section(id: string, title: string): { el: HTMLElement; body: HTMLElement } {
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const el = h("section", { class: "status", "aria-labelledby": id }, h("h2", { id, tabindex: "-1" }, title), body);
  return { el, body };
}

function kvTable(rows: [string, Child][], label: string): HTMLTableElement {
  return h(
    "table",
    { class: "data kv", "aria-label": label },
    h("tbody", null, rows.map(([k, v]) => h("tr", { "data-key": k }, h("th", { scope: "row" }, k), h("td", null, v)))),
  );
}

function topTable(title: string, what: string, rows: NameValue[], valueName: string, format: (n: number) => string = String): HTMLElement {
  return h(
    "div",
    null,
    h("h3", null, title),
    rows.length
      ? h(
          "table",
          { class: "data top", "aria-label": title },
          h("thead", null, h("tr", null, h("th", { scope: "col" }, what), h("th", { scope: "col" }, valueName))),
          h("tbody", null, rows.slice(0, 10).map((r) => h("tr", null, h("td", { class: "mono" }, r.name), h("td", { class: "num" }, format(r.value))))),
        )
      : h("p", { class: "muted" }, "None."),
  );
}

function msTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 && ms > 0 ? absTime(ms) : "–";
}

export function statusPage(root: HTMLElement, route: Route): void {
  const build = section(...SECTIONS[0]);
  const runtime = section(...SECTIONS[1]);
  const am = section(...SECTIONS[2]);
  const flags = section(...SECTIONS[3]);
  const config = section(...SECTIONS[4]);
  const tsdb = section(...SECTIONS[5]);
  const blocks = section(...SECTIONS[6]);
  root.append(
    h("h1", null, "Status"),
    h("nav", { class: "status-nav", "aria-label": "Status sections" }, SECTIONS.map(([id, title]) => jumpLink(id, title))),
    build.el,
    runtime.el,
    am.el,
    flags.el,
    config.el,
    tsdb.el,
    blocks.el,
  );

  const fail = (target: HTMLElement, what: string) => (err: unknown) => replace(target, notice("error", `Could not load ${what}: ${errorText(err)}`));

  void promGet<Record<string, string>>("/api/v1/status/buildinfo").then(
    (info) => replace(build.body, kvTable(Object.entries(info).map(([k, v]) => [k, v || "–"]), "Build information")),
    fail(build.body, "build information"),
  );

  void promGet<Record<string, string | number | boolean>>("/api/v1/status/runtimeinfo").then((info) => {
    const rows: [string, Child][] = Object.entries(info).map(([k, v]) => {
      if ((k === "startTime" || k === "lastConfigTime") && typeof v === "string") return [k, `${absTime(v)} (${relative(v)})`];
      return [k, String(v)];
    });
    replace(runtime.body, kvTable(rows, "Runtime information"));
  }, fail(runtime.body, "runtime information"));

  void Promise.all([getJSON<AMStatus>("/api/v2/status"), getJSON<Delivery>("/api/vigil/v1/delivery")]).then(
    ([s, delivery]) => {
      const rows: [string, Child][] = [];
      if (s.uptime) rows.push(["uptime", `${absTime(s.uptime)} (${relative(s.uptime)})`]);
      if (s.cluster) rows.push(["cluster", s.cluster.status]);
      for (const [k, v] of Object.entries(s.versionInfo ?? {})) rows.push([k, v || "–"]);
      replace(am.body, kvTable(rows, "Alertmanager"), routingView(delivery));
    },
    () => replace(am.body, h("p", { class: "muted" }, "The built-in Alertmanager is off (--alertmanager.disable).")),
  );

  let flagFilter = route.params.get("flags") ?? "";
  void promGet<Record<string, string>>("/api/v1/status/flags").then((all) => {
    const table = h("div");
    const draw = (): void => {
      const needle = flagFilter.trim().toLowerCase();
      const rows = Object.entries(all)
        .filter(([k, v]) => !needle || k.toLowerCase().includes(needle) || v.toLowerCase().includes(needle))
        .sort(([a], [b]) => a.localeCompare(b));
      replace(
        table,
        rows.length
          ? h(
              "table",
              { class: "data flags", "aria-label": "Command-line flags" },
              h("thead", null, h("tr", null, h("th", { scope: "col" }, "Flag"), h("th", { scope: "col" }, "Value"))),
              h("tbody", null, rows.map(([k, v]) => h("tr", { "data-flag": k }, h("td", { class: "mono" }, `--${k}`), h("td", { class: "mono" }, v)))),
            )
          : h("p", { class: "muted" }, "No flag matches the filter."),
      );
    };
    replace(
      flags.body,
      h(
        "div",
        { class: "toolbar" },
        searchBox("Filter flags", flagFilter, (value) => {
          flagFilter = value;
          const p = new URLSearchParams(location.search);
          if (value) p.set("flags", value);
          else p.delete("flags");
          setParams(p);
          draw();
        }),
      ),
      table,
    );
    draw();
  }, fail(flags.body, "flags"));

  void promGet<{ yaml: string }>("/api/v1/status/config").then(
    (c) => replace(config.body, h("pre", { class: "config", tabindex: "0", "aria-label": "Loaded configuration" }, c.yaml)),
    fail(config.body, "the configuration"),
  );

  void promGet<TSDBStatus>("/api/v1/status/tsdb").then((s) => {
    const head = s.headStats;
    const headRows: [string, Child][] = [
      ["Number of series", String(head.numSeries)],
      ["Number of chunks", String(head.chunkCount)],
      ["Min time", msTime(head.minTime)],
      ["Max time", msTime(head.maxTime)],
    ];
    if (s.maxSeries) headRows.push(["Series limit (vigil's memory budget)", String(s.maxSeries)]);
    replace(tsdb.body, h("h3", null, "Head"), kvTable(headRows, "Head statistics"));
    const grid = h(
      "div",
      { class: "status-grid" },
      topTable("Top 10 metric names by series count", "Name", s.seriesCountByMetricName, "Series"),
      topTable("Top 10 label names by value count", "Name", s.labelValueCountByLabelName, "Values"),
      topTable("Top 10 label=value pairs by series count", "Pair", s.seriesCountByLabelValuePair, "Series"),
      s.memoryInBytesByLabelName ? topTable("Top 10 label names by memory use", "Name", s.memoryInBytesByLabelName, "Bytes", bytes) : null,
      s.refusedSeriesByMetricName?.length ? topTable("Series refused over the limit", "Name", s.refusedSeriesByMetricName, "Series") : null,
    );
    append(tsdb.body, [grid]);
    drawBlocks(blocks.body, s.blocks);
  }, (err) => {
    fail(tsdb.body, "TSDB statistics")(err);
    fail(blocks.body, "the block list")(err);
  });
}

function drawBlocks(target: HTMLElement, blocks: Block[] | undefined): void {
  if (blocks === undefined) {
    replace(target, h("p", { class: "muted" }, "This server does not list its blocks."));
    return;
  }
  if (!blocks.length) {
    replace(target, h("p", { class: "muted" }, "No persisted blocks yet: samples are still in the head (a block is cut every 2h)."));
    return;
  }
  const total = blocks.reduce((n, b) => n + (b.size ?? 0), 0);
  replace(
    target,
    h(
      "table",
      { class: "data blocks", "aria-label": "Blocks" },
      h(
        "thead",
        null,
        h("tr", null, ["ULID", "Min time", "Max time", "Duration", "Samples", "Series", "Level", "Size"].map((t) => h("th", { scope: "col" }, t))),
      ),
      h(
        "tbody",
        null,
        blocks.map((b) =>
          h(
            "tr",
            { "data-ulid": b.ulid },
            h("td", { class: "mono" }, b.ulid),
            h("td", null, msTime(b.minTime)),
            h("td", null, msTime(b.maxTime)),
            h("td", null, formatDuration(b.maxTime - b.minTime + 1)),
            h("td", { class: "num" }, String(b.numSamples)),
            h("td", { class: "num" }, String(b.numSeries)),
            h("td", { class: "num" }, b.level === undefined ? "–" : String(b.level)),
            h("td", { class: "num" }, b.size === undefined ? "–" : bytes(b.size)),
          ),
        ),
      ),
      h("tfoot", null, h("tr", null, h("th", { scope: "row", colspan: "7" }, `${blocks.length} blocks`), h("td", { class: "num" }, bytes(total)))),
    ),
  );
}
