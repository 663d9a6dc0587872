// The Targets page: Prometheus's, over /api/v1/targets — scrape pools (collapsible, with up/total),
// each target's endpoint, health, labels after relabeling (and, on demand, before), last scrape and
// error. Filters (health, text) live in the URL; the page refreshes itself every 15 s.
import { dateTime } from "./timezone";
import { h, notice, pill, replace } from "./dom";
import { promGet } from "./api";
import type { Target, TargetsData } from "./api/types/targets";
import { type Route, setParams } from "./router";
import { errorText, labelChips, matchesSearch, poll, searchBox, seconds, timeEl, toggle } from "./pages/common";

const REFRESH_MS = 15_000;

export function targetsPage(root: HTMLElement, route: Route): () => void {
  const params = new URLSearchParams(route.params);
  let unhealthy = params.get("health") === "unhealthy";
  let search = params.get("search") ?? "";
  let targets: Target[] = [];
  let loadError = "";
  let loadedAt = 0;
  const collapsed = new Set(params.getAll("collapsed"));

  const pools = h("div", { "aria-live": "polite" });
  const updated = h("span", { class: "updated muted" });

  const saveParams = (): void => {
    const p = new URLSearchParams();
    if (unhealthy) p.set("health", "unhealthy");
    if (search) p.set("search", search);
    for (const pool of [...collapsed].sort()) p.append("collapsed", pool);
    setParams(p);
  };

  const healthButtons = h("div", { class: "tabs", role: "group", "aria-label": "Health" });
  const drawHealthButtons = (): void => {
    replace(
      healthButtons,
      toggle("All", !unhealthy, () => setHealth(false)),
      toggle("Unhealthy", unhealthy, () => setHealth(true)),
    );
  };
  const setHealth = (value: boolean): void => {
    unhealthy = value;
    saveParams();
    drawHealthButtons();
    draw();
  };
  drawHealthButtons();

  const draw = (): void => {
    if (loadError) {
      replace(pools, notice("error", `Could not load targets: ${loadError}`));
      return;
    }
    const byPool = new Map<string, Target[]>();
    for (const t of targets) {
      const list = byPool.get(t.scrapePool) ?? [];
      list.push(t);
      byPool.set(t.scrapePool, list);
    }
    const sections: HTMLElement[] = [];
    for (const name of [...byPool.keys()].sort()) {
      const all = byPool.get(name) ?? [];
      const up = all.filter((t) => t.health === "up").length;
      const shown = all.filter(
        (t) =>
          (!unhealthy || t.health !== "up") &&
          matchesSearch(search, t.scrapeUrl, t.labels, t.lastError),
      );
      if (!shown.length) continue;
      sections.push(poolSection(name, up, all.length, shown, !collapsed.has(name), (open) => {
        if (open) collapsed.delete(name);
        else collapsed.add(name);
        saveParams();
      }));
    }
    if (!sections.length) {
      replace(
        pools,
        notice("info", targets.length ? "No target matches these filters." : "No targets: the configuration has no scrape_configs."),
      );
    } else replace(pools, sections);
    updated.textContent = loadedAt ? `updated ${dateTime(loadedAt).slice(11)}, every 15s` : "";
  };

  const load = async (): Promise<void> => {
    try {
      targets = (await promGet<TargetsData>("/api/v1/targets", { state: "active" })).activeTargets;
      loadError = "";
      loadedAt = Date.now();
    } catch (err) {
      loadError = errorText(err);
    }
    draw();
  };

  const expandAll = (open: boolean): void => {
    collapsed.clear();
    if (!open) for (const t of targets) collapsed.add(t.scrapePool);
    saveParams();
    draw();
  };

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Targets"), updated),
    h(
      "div",
      { class: "toolbar" },
      healthButtons,
      searchBox("Filter by endpoint, label or error", search, (value) => {
        search = value;
        saveParams();
        draw();
      }),
      h("button", { type: "button", onclick: () => expandAll(true) }, "Expand all"),
      h("button", { type: "button", onclick: () => expandAll(false) }, "Collapse all"),
      h("button", { type: "button", onclick: () => void load() }, "Refresh"),
    ),
    pools,
  );
  pools.append(h("p", { class: "muted" }, "Loading…"));
  void load();
  return poll(REFRESH_MS, load);
}

function poolSection(
  name: string,
  up: number,
  total: number,
  shown: Target[],
  open: boolean,
  onToggle: (open: boolean) => void,
): HTMLDetailsElement {
  const state = up === total ? "up" : up === 0 ? "down" : "unknown";
  const details = h(
    "details",
    { class: "section pool", open, "data-pool": name },
    h(
      "summary",
      null,
      h("span", { class: "title" }, name),
      pill(state, `${up}/${total} up`),
    ),
    h(
      "table",
      { class: "data" },
      h(
        "thead",
        null,
        h("tr", null, ["Endpoint", "State", "Labels", "Last scrape", "Scrape duration", "Error"].map((t) => h("th", { scope: "col" }, t))),
      ),
      h("tbody", null, shown.map(targetRow)),
    ),
  );
  details.addEventListener("toggle", () => onToggle(details.open));
  return details;
}

function targetRow(t: Target): HTMLTableRowElement {
  return h(
    "tr",
    { class: "target", "data-scrape-url": t.scrapeUrl, "data-health": t.health },
    h("td", null, h("a", { class: "endpoint", href: t.scrapeUrl, target: "_blank", rel: "noopener noreferrer" }, t.scrapeUrl)),
    h("td", null, pill(t.health, t.health.toUpperCase())),
    h(
      "td",
      null,
      labelChips(t.labels),
      h(
        "details",
        { class: "inline" },
        h("summary", null, "discovered labels"),
        labelChips(t.discoveredLabels),
      ),
    ),
    h(
      "td",
      null,
      timeEl(t.lastScrape),
      t.scrapeInterval ? h("div", { class: "muted" }, `every ${t.scrapeInterval}`) : null,
    ),
    h("td", { class: "num" }, t.lastScrape && !Number.isNaN(Date.parse(t.lastScrape)) && Date.parse(t.lastScrape) > 0 ? seconds(t.lastScrapeDuration) : "–"),
    h("td", null, t.lastError ? h("span", { class: "error-text" }, t.lastError) : null),
  );
}
