// Grafana's "Calculate from data" heatmap (`options.calculate: true`): every sample of every
// series counted into a grid of time buckets × value buckets. A bucket's size is given
// (`mode: "size"`, a duration for time, a number for values, or for a log scale the number of
// buckets per power of the base) or chosen from a count (`mode: "count"`, the largest "nice"
// size at most range / (count - 1)); without a valid setting, 20 time and 10 value buckets.
import { parseDuration } from "../../duration";
import type { Frame } from "../types";
import { obj } from "./reduced";
import type { HeatmapData, HeatmapRow } from "./heatmapdata";

export interface Axis {
  mode: "size" | "count";
  /** A size (seconds for time), or a number of buckets; null when not set or invalid. */
  value: number | null;
}

export interface Calculation {
  x: Axis;
  y: Axis;
  /** The base of a log value scale (2 or 10), or null for linear. */
  yLog: 2 | 10 | null;
}

const DEFAULT_X_BUCKETS = 20;
const DEFAULT_Y_BUCKETS = 10;

function axis(config: unknown, time: boolean): Axis {
  const c = obj(config);
  const text = c.value === undefined || c.value === null ? "" : String(c.value).trim();
  const mode = c.mode === "count" ? "count" : "size";
  let value: number | null = text === "" ? null : Number(text);
  // A time size is a duration ("1m") or milliseconds; a count is a plain number.
  if (time && mode === "size") value = /^\d+(\.\d+)?$/.test(text) ? Number(text) / 1000 : (parseDuration(text) ?? NaN) / 1000;
  return { mode, value: value !== null && Number.isFinite(value) && value > 0 ? value : null };
}

/** The panel's calculation, or null when it draws buckets the query already made. */
export function calculationOf(options: unknown): Calculation | null {
  const o = obj(options);
  if (o.calculate !== true) return null;
  const calc = obj(o.calculation);
  const scale = obj(obj(calc.yBuckets).scale);
  const log = scale.type === "log" ? (scale.log === 10 ? 10 : 2) : null;
  return { x: axis(calc.xBuckets, true), y: axis(calc.yBuckets, false), yLog: log };
}

const LINEAR_STEPS = [1, 2, 2.5, 5];
const TIME_STEPS_S = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
  14400, 21600, 28800, 43200, 86400, 172800, 259200, 345600, 432000, 518400, 604800, 1209600, 2592000, 7776000, 15552000, 31536000,
];

/** The largest nice size at most `approx` (the smallest one when none is). */
function niceSize(approx: number, time: boolean): number {
  if (time) {
    let best = TIME_STEPS_S[0];
    for (const s of TIME_STEPS_S) if (s <= approx) best = s;
    return best;
  }
  if (!(approx > 0)) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(approx)));
  let best = mag;
  for (const m of LINEAR_STEPS) if (m * mag <= approx * (1 + 1e-12)) best = m * mag;
  return Number(best.toPrecision(12));
}

function size(a: Axis, lo: number, hi: number, fallback: number, time: boolean): number {
  if (a.mode === "size" && a.value !== null) return a.value;
  const count = a.mode === "count" && a.value !== null ? a.value : fallback;
  return niceSize((hi - lo) / Math.max(count - 1, 1), time);
}

/** The grid of counts from every finite sample of `frames` (positive ones on a log scale). */
export function calculateHeatmap(frames: Frame[], calc: Calculation): HeatmapData | null {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const f of frames) {
    f.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v) || (calc.yLog !== null && v <= 0) || i >= f.timestamps.length) return;
      xs.push(f.timestamps[i]);
      ys.push(calc.yLog === null ? v : Math.log(v) / Math.log(calc.yLog));
    });
  }
  if (!xs.length) return null;
  let [xLo, xHi, yLo, yHi] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < xs.length; i++) {
    xLo = Math.min(xLo, xs[i]);
    xHi = Math.max(xHi, xs[i]);
    yLo = Math.min(yLo, ys[i]);
    yHi = Math.max(yHi, ys[i]);
  }
  const xSize = size(calc.x, xLo, xHi, DEFAULT_X_BUCKETS, true);
  // On a log scale a size is a number of buckets per power of the base.
  const ySize = calc.yLog !== null ? 1 / (calc.y.mode === "size" && calc.y.value !== null ? calc.y.value : 1) : size(calc.y, yLo, yHi, DEFAULT_Y_BUCKETS, false);
  const x0 = Math.floor(xLo / xSize);
  const y0 = Math.floor(yLo / ySize);
  const columns = Math.floor(xHi / xSize) - x0 + 1;
  const rowCount = Math.floor(yHi / ySize) - y0 + 1;
  const counts = Array.from({ length: rowCount }, () => new Array<number | null>(columns).fill(0));
  for (let i = 0; i < xs.length; i++) {
    (counts[Math.floor(ys[i] / ySize) - y0][Math.floor(xs[i] / xSize) - x0] as number)++;
  }
  const bound = (k: number): number => {
    const v = Number(((y0 + k) * ySize).toPrecision(12));
    return calc.yLog === null ? v : Number(Math.pow(calc.yLog, v).toPrecision(12));
  };
  const rows: HeatmapRow[] = counts.map((c, k) => ({ lower: bound(k), upper: bound(k + 1), name: "", counts: c }));
  const timestamps = Float64Array.from({ length: columns }, (_, k) => (x0 + k + 1) * xSize);
  return { timestamps, step: xSize, rows, layout: "ge" };
}
