// The Logs page's result rows: one per log line, newest first. A line is only ever text: the
// highlighted matches are <mark> nodes around text nodes, never parsed markup.
import { h } from "./dom";
import { markMatches } from "./logs_logql";
import { dateTime } from "./timezone";

/** Per entry, what Loki's categorize-labels encoding adds beside the line. */
export interface EntryMeta {
  structuredMetadata?: Record<string, string>;
  parsed?: Record<string, string>;
}

export interface LogStream {
  stream: Record<string, string>;
  values: [string, string, EntryMeta?][];
}

export interface LogRow {
  /** Unix nanoseconds, as the API's decimal string. */
  ns: string;
  line: string;
  labels: Record<string, string>;
  meta: EntryMeta;
}

function newerFirst(a: LogRow, b: LogRow): number {
  return a.ns.length !== b.ns.length ? b.ns.length - a.ns.length : a.ns < b.ns ? 1 : a.ns > b.ns ? -1 : 0;
}

/** Every stream's entries in one list, newest first, at most `limit` of them. */
export function mergeStreams(streams: readonly LogStream[], limit: number): LogRow[] {
  const rows: LogRow[] = [];
  for (const s of streams) {
    for (const [ns, line, meta] of s.values) rows.push({ ns, line, labels: s.stream, meta: meta ?? {} });
  }
  return rows.sort(newerFirst).slice(0, limit);
}

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
    () =>
      details.append(
        h(
          "div",
          { class: "log-detail" },
          fields("Stream labels", row.labels),
          fields("Structured metadata", row.meta.structuredMetadata),
          fields("Parsed fields", row.meta.parsed),
        ),
      ),
    { once: true },
  );
  return details;
}
