// The Logs page's volume histogram: lines per step of the range by level, as stacked bars drawn
// with plain elements (no chart library for one bar chart).
import { getJSON } from "./api";
import { h, replace } from "./dom";
import { selectorOf } from "./logs_logql";
import { dateTime } from "./timezone";

/** About 60 bars whatever the range; a step of at least one second. */
const BARS = 60;
/** Levels bottom to top; any other level (or none) stacks above them. */
const LEVEL_ORDER = ["critical", "fatal", "error", "warn", "warning", "info", "debug", "trace"];

interface MatrixData {
  resultType: string;
  result: { metric: Record<string, string>; values: [number, string][] }[];
}

export interface Volume {
  startS: number;
  stepS: number;
  /** Per level, its count in each bar. */
  levels: [string, number[]][];
}

export function volumeStep(rangeS: number): number {
  return Math.max(1, Math.ceil(rangeS / BARS));
}

/** The LogQL metric query counting the selector's lines per level and step. */
export function volumeQuery(query: string, stepS: number): string {
  return `sum by (level) (count_over_time(${selectorOf(query)} [${stepS}s]))`;
}

function rank(level: string): number {
  const i = LEVEL_ORDER.indexOf(level);
  return i < 0 ? LEVEL_ORDER.length : i;
}

/** A matrix answer as bars from `startS` to `endS`, one per `stepS`. */
export function volumeOf(data: MatrixData, startS: number, endS: number, stepS: number): Volume {
  const n = Math.floor((endS - startS) / stepS) + 1;
  const levels = data.result.map((series): [string, number[]] => {
    const counts = new Array<number>(n).fill(0);
    for (const [t, v] of series.values) {
      const i = Math.round((t - startS) / stepS);
      if (i >= 0 && i < n) counts[i] += Number(v);
    }
    return [series.metric.level || "unknown", counts];
  });
  levels.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  return { startS, stepS, levels };
}

function chart(volume: Volume): HTMLElement {
  const n = volume.levels[0]?.[1].length ?? 0;
  const totals = Array.from({ length: n }, (_, i) => volume.levels.reduce((sum, [, c]) => sum + c[i], 0));
  const max = Math.max(1, ...totals);
  const bars = totals.map((total, i) => {
    const at = dateTime((volume.startS + i * volume.stepS) * 1000);
    const bar = h("div", { class: "volume-bar", title: `${at}: ${total} lines` });
    for (const [level, counts] of volume.levels) {
      if (!counts[i]) continue;
      const seg = h("div", { class: "volume-seg", "data-level": level, title: `${at}: ${counts[i]} ${level}` });
      seg.style.height = `${((counts[i] / max) * 100).toFixed(2)}%`;
      bar.append(seg);
    }
    return bar;
  });
  const end = volume.startS + (n - 1) * volume.stepS;
  return h(
    "figure",
    { class: "logs-volume", "aria-label": "Log volume by level" },
    h("div", { class: "volume-bars" }, bars),
    h(
      "figcaption",
      { class: "volume-axis muted" },
      h("span", null, dateTime(volume.startS * 1000)),
      h(
        "span",
        { class: "volume-legend" },
        volume.levels.map(([level, counts]) =>
          h("span", { class: "volume-key", "data-level": level }, `${level} ${counts.reduce((a, b) => a + b, 0)}`),
        ),
      ),
      h("span", null, dateTime(end * 1000)),
    ),
  );
}

/** Draws the volume of `query`'s selector over [startS, endS] into `el`; `current` says
 * whether the page still wants this answer when it arrives. */
export async function loadVolume(el: HTMLElement, query: string, startS: number, endS: number, current: () => boolean): Promise<void> {
  const stepS = volumeStep(endS - startS);
  try {
    const data = await getJSON<{ data: MatrixData }>("/loki/api/v1/query_range", {
      query: volumeQuery(query, stepS),
      start: String(startS),
      end: String(endS),
      step: String(stepS),
    });
    if (current()) replace(el, data.data.result.length ? chart(volumeOf(data.data, startS, endS, stepS)) : null);
  } catch (err) {
    if (current()) replace(el, h("p", { class: "muted" }, `No volume: ${err instanceof Error ? err.message : String(err)}`));
  }
}
