// The Logs page's result rows: one per log line, newest first. A line is only ever text: the
// highlighted matches are <mark> nodes around text nodes, never parsed markup.
import { h } from "./dom";
import { showContext } from "./logs_context";
import { markMatches } from "./logs_logql";
import type { LogRow } from "./logs_streams";
import { dateTime } from "./timezone";
import { traceHref, traceIdOf } from "./traces_links";

function compactLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

function fields(title: string, values: Record<string, string> | undefined): HTMLElement | null {
  const entries = Object.entries(values ?? {});
  if (!entries.length) return null;
  return h(
    "section",
    { class: "log-fields" },
    h("h4", null, title),
    h("dl", null, entries.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
  );
}

/** A row that opens (click, Enter or Space) onto its stream labels and the entry's fields. */
export function logRow(row: LogRow, literals: readonly string[]): HTMLDetailsElement {
  const ms = Number(BigInt(row.ns) / 1_000_000n);
  const line = h(
    "span",
    { class: "log-line" },
    markMatches(row.line, literals).map(([text, hit]) => (hit ? h("mark", null, text) : text)),
  );
  const details = h(
    "details",
    { class: "log-row", "data-level": row.labels.level ?? row.meta.structuredMetadata?.detected_level ?? "" },
    h(
      "summary",
      null,
      h("time", { class: "log-time", datetime: new Date(ms).toISOString() }, dateTime(ms)),
      h("span", { class: "log-labels" }, compactLabels(row.labels)),
      line,
    ),
  );
  details.addEventListener(
    "toggle",
    () => {
      const context = h("div", { class: "log-context", "aria-label": "Context" });
      const button = h("button", { type: "button", class: "log-context-button" }, "Show context");
      button.addEventListener("click", () => {
        button.remove();
        void showContext(context, row);
      });
      const traceId = traceIdOf(row);
      details.append(
        h(
          "div",
          { class: "log-detail" },
          traceId ? h("a", { class: "button log-trace", href: traceHref(traceId) }, "Open trace ", h("code", null, traceId)) : null,
          fields("Stream labels", row.labels),
          fields("Structured metadata", row.meta.structuredMetadata),
          fields("Parsed fields", row.meta.parsed),
          h("div", { class: "log-context-area" }, button, context),
        ),
      );
    },
    { once: true },
  );
  return details;
}
