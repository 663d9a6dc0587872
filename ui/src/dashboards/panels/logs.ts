// Grafana's `logs` panel over a Loki datasource's log query: the streams' lines merged into
// one list (newest first unless sortOrder is "Ascending"), with Grafana's options showTime,
// showLabels (the labels that differ between the rows' streams), wrapLogMessage and
// dedupStrategy "exact"/"numbers"/"signature". Lines are text nodes, never markup.
import { h } from "../../dom";
import { dateTime } from "../../timezone";
import type { Frame, PanelRenderer } from "../types";
import "./panels.css";

export interface LogRow {
  nanos: bigint;
  line: string;
  labels: Record<string, string>;
  /** How many following rows dedup folded into this one. */
  repeats: number;
}

type Dedup = "none" | "exact" | "numbers" | "signature";

const LEVEL = /\b(crit(?:ical)?|fatal|panic|emerg|err(?:or)?|warn(?:ing)?|info|debug|trace)\b/i;
const LEVELS: Record<string, string> = {
  crit: "critical", critical: "critical", fatal: "critical", panic: "critical", emerg: "critical",
  err: "error", error: "error", warn: "warn", warning: "warn", info: "info", debug: "debug", trace: "trace",
};

/** A row's level: Loki's `detected_level` or a `level` label, else the first level word. */
export function rowLevel(row: LogRow): string {
  const given = row.labels.detected_level ?? row.labels.level;
  if (given) return LEVELS[given.toLowerCase()] ?? given.toLowerCase();
  const m = LEVEL.exec(row.line.slice(0, 200));
  return m ? LEVELS[m[1].toLowerCase()] : "";
}

function dedupKey(line: string, how: Dedup): string {
  switch (how) {
    case "numbers":
      return line.replace(/\d+(\.\d+)?/g, "0");
    case "signature":
      return line.replace(/\w/g, "");
    default:
      return line;
  }
}

/** The frames' lines as rows, ordered, consecutive duplicates folded per `dedup`. */
export function logRows(frames: Frame[], ascending: boolean, dedup: Dedup = "none"): LogRow[] {
  const rows: LogRow[] = [];
  for (const f of frames) {
    if (!f.lines || !f.nanos) continue;
    for (let i = 0; i < f.lines.length; i++) rows.push({ nanos: BigInt(f.nanos[i]), line: f.lines[i], labels: f.labels, repeats: 0 });
  }
  rows.sort((a, b) => (a.nanos === b.nanos ? 0 : (a.nanos < b.nanos) === ascending ? -1 : 1));
  if (dedup === "none") return rows;
  const out: LogRow[] = [];
  for (const row of rows) {
    const last = out[out.length - 1];
    if (last && dedupKey(last.line, dedup) === dedupKey(row.line, dedup)) last.repeats++;
    else out.push(row);
  }
  return out;
}

/** The label names whose values differ between the rows' streams (the ones worth showing). */
export function varyingLabels(rows: LogRow[]): string[] {
  const seen = new Map<string, Set<string>>();
  const streams = new Set<Record<string, string>>(rows.map((r) => r.labels));
  for (const labels of streams) for (const [k, v] of Object.entries(labels)) (seen.get(k) ?? seen.set(k, new Set()).get(k)!).add(v);
  return [...seen].filter(([k, values]) => values.size > 1 || [...streams].some((l) => !(k in l))).map(([k]) => k).sort();
}

export const logsPanel: PanelRenderer = (el, ctx) => {
  const o = ctx.panel.options ?? {};
  const dedup = (["exact", "numbers", "signature"].includes(String(o.dedupStrategy)) ? o.dedupStrategy : "none") as Dedup;
  const rows = logRows(ctx.frames, o.sortOrder === "Ascending", dedup);
  const shown = o.showLabels === true ? varyingLabels(rows) : [];
  const list = h(
    "div",
    { class: `logs-panel${o.wrapLogMessage === true ? " wrap" : ""}`, role: "log", "aria-label": "Log lines" },
    rows.map((row) =>
      h(
        "div",
        { class: "logs-panel-row", "data-level": rowLevel(row) },
        o.showTime === true ? h("time", { class: "logs-panel-time muted" }, dateTime(Number(row.nanos / 1_000_000n))) : null,
        shown.length ? h("span", { class: "logs-panel-labels muted" }, shown.filter((k) => k in row.labels).map((k) => `${k}=${row.labels[k]}`).join(" ")) : null,
        h("span", { class: "logs-panel-line mono" }, row.line),
        row.repeats ? h("span", { class: "logs-panel-repeats muted", title: "Repeated lines folded into this one" }, `×${row.repeats + 1}`) : null,
      ),
    ),
  );
  el.append(list);
};
