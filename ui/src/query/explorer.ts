// The metrics explorer: every metric name with the TYPE and HELP its targets expose
// (/api/v1/metadata, names from /api/v1/label/__name__/values), searchable by name or help;
// picking one inserts it into the editor it was opened from.
import type { MetadataData } from "../api/types/metadata";
import { h, notice, replace } from "../dom";
import { type Sources, metadataFor } from "./autocomplete";

export interface MetricInfo {
  name: string;
  type: string;
  help: string;
}

const SHOWN = 300;

/**
 * The metric names with their metadata, sorted by name: a name takes its own metadata or its
 * family's (`x_total` that of counter `x`); metadata no series name uses is listed by itself.
 */
export function metricInfos(names: string[], metadata: MetadataData): MetricInfo[] {
  const used = new Set<string>();
  const infos = names.map((name) => {
    const meta = metadataFor(name, metadata);
    if (meta) used.add(meta.family);
    return { name, type: meta?.type ?? "", help: meta?.help ?? "" };
  });
  for (const [name, entries] of Object.entries(metadata)) {
    if (!used.has(name) && !names.includes(name)) infos.push({ name, type: entries[0]?.type ?? "", help: entries[0]?.help ?? "" });
  }
  return infos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The metrics whose name or help contains every word of `search`, case-insensitive. */
export function filterMetrics(metrics: MetricInfo[], search: string): MetricInfo[] {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  return metrics.filter((m) => {
    const text = `${m.name} ${m.help}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** Opens the explorer as a modal dialog; `onPick(name)` runs when a metric is chosen. */
export function openExplorer(sources: Sources, onPick: (name: string) => void): HTMLDialogElement {
  const search = h("input", { type: "search", class: "explorer-search", "aria-label": "Search metrics", placeholder: "Search metrics by name or help" });
  const count = h("p", { class: "muted explorer-count", "aria-live": "polite" }, "Loading metrics…");
  const list = h("div", { class: "explorer-list" });
  const dialog = h(
    "dialog",
    { class: "metrics-explorer", "aria-label": "Metrics explorer" },
    h("header", { class: "explorer-head" }, h("h2", null, "Metrics explorer"), h("button", { type: "button", onclick: () => dialog.close() }, "Close")),
    search,
    count,
    list,
  );
  let metrics: MetricInfo[] = [];
  const show = (): void => {
    const found = filterMetrics(metrics, search.value);
    count.textContent = `${found.length} of ${metrics.length} metrics${found.length > SHOWN ? `, first ${SHOWN} shown` : ""}`;
    replace(
      list,
      h(
        "table",
        { class: "data explorer-table" },
        h("thead", null, h("tr", null, h("th", null, "Metric"), h("th", null, "Type"), h("th", null, "Help"))),
        h(
          "tbody",
          null,
          found.slice(0, SHOWN).map((m) =>
            h(
              "tr",
              null,
              h("td", null, h("button", { type: "button", class: "link mono", title: "Insert into the expression", onclick: () => { dialog.close(); onPick(m.name); } }, m.name)),
              h("td", { class: "muted" }, m.type),
              h("td", null, m.help),
            ),
          ),
        ),
      ),
    );
  };
  search.addEventListener("input", show);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  search.focus();
  Promise.all([sources.metricNames(), sources.metadata()]).then(
    ([names, metadata]) => {
      metrics = metricInfos(names, metadata);
      show();
    },
    (err: unknown) => replace(list, notice("error", err instanceof Error ? err.message : String(err))),
  );
  return dialog;
}
