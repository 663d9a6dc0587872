// The Table tab: an instant query's result as rows of series and values (labels as text).
import type { NativeHistogram, QueryData } from "../api/types/query";
import { h, notice } from "../dom";

/** More rows than this make the browser crawl; the rest are counted, not drawn. */
export const MAX_ROWS = 10_000;

/** `up{job="x"}` with the metric name and each label in their own spans; its text is seriesName(). */
export function seriesLabel(metric: Record<string, string>): HTMLElement {
  const name = metric.__name__ ?? "";
  const labels = Object.entries(metric).filter(([k]) => k !== "__name__");
  if (!labels.length && name) return h("span", { class: "series" }, h("span", { class: "series-name" }, name));
  const parts: (HTMLElement | string)[] = [];
  labels.forEach(([k, v], i) => {
    if (i) parts.push(", ");
    parts.push(h("span", { class: "series-label" }, h("span", { class: "label-name" }, k), "=", h("span", { class: "label-value" }, JSON.stringify(v))));
  });
  return h("span", { class: "series" }, name ? h("span", { class: "series-name" }, name) : null, "{", parts, "}");
}

export function resultTable(data: QueryData): HTMLElement {
  if (data.resultType === "scalar" || data.resultType === "string") {
    return h(
      "table",
      { class: "data query-table" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Value"))),
      h("tbody", null, h("tr", null, h("td", null, data.resultType), h("td", { class: "num value" }, data.result[1]))),
    );
  }
  if (!data.result.length) return notice("info", "Empty query result");
  const rows: HTMLTableRowElement[] = [];
  if (data.resultType === "vector") {
    for (const s of data.result.slice(0, MAX_ROWS)) rows.push(h("tr", null, h("td", { class: "series-cell" }, seriesLabel(s.metric)), h("td", { class: "num value" }, s.value ? s.value[1] : histogramText(s.histogram?.[1]))));
  } else {
    for (const s of data.result.slice(0, MAX_ROWS)) {
      const values = [...(s.values ?? []).map(([t, v]) => `${v} @${t}`), ...(s.histograms ?? []).map(([t, hist]) => `${histogramText(hist)} @${t}`)];
      rows.push(h("tr", null, h("td", { class: "series-cell" }, seriesLabel(s.metric)), h("td", { class: "num value matrix" }, values.join("\n"))));
    }
  }
  return h(
    "div",
    null,
    data.result.length > MAX_ROWS
      ? notice("warn", `Showing the first ${MAX_ROWS.toLocaleString("en")} of ${data.result.length.toLocaleString("en")} series.`)
      : null,
    h(
      "table",
      { class: "data query-table" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Series"), h("th", { scope: "col", class: "num" }, "Value"))),
      h("tbody", null, rows),
    ),
  );
}

/** How many series (or 1 for a scalar) the result holds. */
export function resultCount(data: QueryData): number {
  return data.resultType === "scalar" || data.resultType === "string" ? 1 : data.result.length;
}

/** A native histogram sample as one line: its count and sum. */
function histogramText(hist: NativeHistogram | undefined): string {
  return hist ? `{count:${hist.count}, sum:${hist.sum}}` : "";
}
