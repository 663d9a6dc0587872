// "Show context" on a Logs row: the lines just before and after it in the same stream, asked as
// Grafana does — backward up to the row's time (exclusive), forward from just after it.
import { getJSON } from "./api";
import { h, notice, replace } from "./dom";
import { type LogRow, type LogStream, mergeStreams } from "./logs_streams";
import { dateTime } from "./timezone";

const CONTEXT_LINES = 10;
const DAY_NS = 86_400_000_000_000n;

/** The selector matching exactly the stream of `labels`. */
export function streamSelector(labels: Record<string, string>): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(", ")}}`;
}

async function around(row: LogRow, direction: "backward" | "forward"): Promise<LogRow[]> {
  const at = BigInt(row.ns);
  const [start, end] = direction === "backward" ? [at - DAY_NS, at] : [at + 1n, at + DAY_NS];
  const body = await getJSON<{ data: { result: LogStream[] } }>("/loki/api/v1/query_range", {
    query: streamSelector(row.labels),
    start: String(start),
    end: String(end),
    limit: String(CONTEXT_LINES),
    direction,
  });
  return mergeStreams(body.data.result, CONTEXT_LINES);
}

function contextLine(row: LogRow, self = false): HTMLElement {
  const ms = Number(BigInt(row.ns) / 1_000_000n);
  return h(
    "div",
    { class: self ? "log-context-line log-context-self" : "log-context-line" },
    h("span", { class: "log-time" }, dateTime(ms)),
    h("span", { class: "log-line" }, row.line),
  );
}

/** The row's neighbours in its stream, newest first as the page lists lines, the row marked. */
export async function showContext(el: HTMLElement, row: LogRow): Promise<void> {
  replace(el, h("span", { class: "muted" }, "Loading context…"));
  try {
    const [before, after] = await Promise.all([around(row, "backward"), around(row, "forward")]);
    replace(el, after.map((r) => contextLine(r)), contextLine(row, true), before.map((r) => contextLine(r)));
  } catch (err) {
    replace(el, notice("error", err instanceof Error ? err.message : String(err)));
  }
}
