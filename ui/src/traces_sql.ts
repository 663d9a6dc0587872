// The slow-SQL table: per service and statement shape, the 95th percentile of its database
// calls over a window and links to the slowest calls' traces, from vigil's slow-SQL API.
import { promGet } from "./api";
import { h, notice, replace } from "./dom";
import { formatNs } from "./traces_model";
import { traceHref } from "./traces_links";

interface Example {
  trace_id: string;
  span_id: string;
  duration_seconds: number;
  time: number;
}
export interface SlowStatement {
  service: string;
  db_system: string;
  statement: string;
  calls: number;
  p95_seconds: number;
  max_seconds: number;
  examples: Example[];
}

const seconds = (s: number): string => formatNs(Math.round(s * 1e9));

function table(rows: SlowStatement[]): HTMLTableElement {
  return h(
    "table",
    { class: "data slow-sql" },
    h("caption", { class: "muted" }, "Slowest 95th percentile first"),
    h("thead", null, h("tr", null, ["Service", "Database", "Statement", "Calls", "p95", "Max", "Slowest calls"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      rows.map((r) =>
        h(
          "tr",
          null,
          h("td", null, r.service),
          h("td", null, r.db_system),
          h("td", null, h("code", { class: "slow-sql-statement" }, r.statement)),
          h("td", { class: "num" }, String(r.calls)),
          h("td", { class: "num" }, seconds(r.p95_seconds)),
          h("td", { class: "num" }, seconds(r.max_seconds)),
          h(
            "td",
            null,
            r.examples.map((e, i) => [i ? ", " : "", h("a", { href: traceHref(e.trace_id), title: `trace ${e.trace_id}` }, seconds(e.duration_seconds))]),
          ),
        ),
      ),
    ),
  );
}

/** The table over the last `window` (a Prometheus duration, at most 24h) into `root`. */
export async function showSlowSQL(root: HTMLElement, window: string, current: () => boolean): Promise<void> {
  root.dataset.state = "loading";
  try {
    const data = await promGet<{ statements: SlowStatement[] }>("/api/v1/traces/slow_sql", { window, limit: "50" });
    if (!current()) return;
    replace(
      root,
      data.statements.length
        ? table(data.statements)
        : notice(
            "info",
            h("b", null, "No database calls in this window. "),
            "Slow SQL is read from client spans that carry ",
            h("code", null, "db.query.text"),
            " (or ",
            h("code", null, "db.statement"),
            "), as OpenTelemetry's database instrumentations write them.",
          ),
    );
    root.dataset.state = data.statements.length ? "done" : "empty";
  } catch (err) {
    if (!current()) return;
    replace(root, notice("error", `Could not load slow SQL: ${err instanceof Error ? err.message : String(err)}`));
    root.dataset.state = "error";
  }
}
