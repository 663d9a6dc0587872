// A heatmap's cells from a panel's frames, as Grafana builds them for Prometheus: classic
// histogram buckets (series with an `le` label; a `format: heatmap` target's cumulative counts
// de-accumulated, as the Prometheus datasource's transformToHistogramOverTime does), native
// histograms (each bucket its own row), or any other series as a row of its own.
import type { NativeHistogram } from "../../api/types/query";
import type { Frame, GrafanaTarget } from "../types";

export interface HeatmapRow {
  /** The bucket's bounds; null for a row that is a plain series. */
  lower: number | null;
  upper: number | null;
  /** The series' name for a plain row. */
  name: string;
  /** One count per time, null where the row has none. */
  counts: (number | null)[];
}

export interface HeatmapData {
  /** Unix seconds: a cell ends at its time and spans one step back. */
  timestamps: Float64Array;
  step: number;
  /** Bottom to top: ascending buckets, or the series in reverse order. */
  rows: HeatmapRow[];
  /** Which bound names a bucket row on the axis: its upper (`le`, Prometheus's buckets) or
   * its lower one (`ge`, buckets the panel calculated). */
  layout: "le" | "ge";
}

function bound(text: string | undefined): number | null {
  if (text === undefined) return null;
  const v = text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : Number(text);
  return Number.isNaN(v) ? null : v;
}

function add(into: (number | null)[], values: ArrayLike<number | null>): void {
  for (let i = 0; i < into.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined && !Number.isNaN(v)) into[i] = (into[i] ?? 0) + v;
  }
}

function classicRows(frames: Frame[], cumulative: boolean, n: number): HeatmapRow[] {
  const byUpper = new Map<number, (number | null)[]>();
  for (const f of frames) {
    const upper = bound(f.labels.le) as number;
    let counts = byUpper.get(upper);
    if (!counts) byUpper.set(upper, (counts = new Array<number | null>(n).fill(null)));
    add(counts, f.values);
  }
  const uppers = [...byUpper.keys()].sort((a, b) => a - b);
  return uppers.map((upper, k) => {
    const counts = byUpper.get(upper) as (number | null)[];
    const below = k > 0 ? (byUpper.get(uppers[k - 1]) as (number | null)[]) : null;
    const own = cumulative && below ? counts.map((c, i) => (c === null ? null : c - (below[i] ?? 0))) : counts;
    return { lower: k > 0 ? uppers[k - 1] : null, upper, name: "", counts: own };
  });
}

function nativeRows(frames: Frame[], n: number): HeatmapRow[] {
  const rows = new Map<string, HeatmapRow>();
  for (const f of frames) {
    (f.histograms ?? []).forEach((hist: NativeHistogram | null, i) => {
      for (const [, lo, hi, count] of hist?.buckets ?? []) {
        const key = `${lo} ${hi}`;
        let row = rows.get(key);
        if (!row) rows.set(key, (row = { lower: bound(lo), upper: bound(hi), name: "", counts: new Array<number | null>(n).fill(null) }));
        row.counts[i] = (row.counts[i] ?? 0) + Number(count);
      }
    });
  }
  return [...rows.values()].sort((a, b) => (a.lower ?? -Infinity) - (b.lower ?? -Infinity) || (a.upper ?? 0) - (b.upper ?? 0));
}

/** The cells of `frames` (all on one time axis), or null when there are none. */
export function heatmapData(frames: Frame[], targets: GrafanaTarget[]): HeatmapData | null {
  if (!frames.length) return null;
  let timestamps = frames[0].timestamps;
  for (const f of frames) if (f.timestamps.length > timestamps.length) timestamps = f.timestamps;
  const n = timestamps.length;
  const step = n > 1 ? timestamps[1] - timestamps[0] : 60;
  let rows: HeatmapRow[];
  if (frames.some((f) => f.histograms)) rows = nativeRows(frames, n);
  else if (frames.every((f) => bound(f.labels.le) !== null)) {
    const cumulative = targets.some((t) => t.format === "heatmap");
    rows = classicRows(frames, cumulative, n);
  } else rows = [...frames].reverse().map((f) => ({ lower: null, upper: null, name: f.name, counts: f.values.slice(0, n) }));
  return rows.length ? { timestamps, step, rows, layout: "le" } : null;
}
