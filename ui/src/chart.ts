// Time-series charts on uPlot: aligned data, stacking, units on the axis and in the legend.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { MatrixSeries } from "./api";

/** Grafana's classic palette, so imported dashboards keep their familiar colours. */
export const PALETTE = [
  "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
  "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
  "#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F", "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0",
];

export interface ChartSeries {
  label: string;
  values: ArrayLike<number | null>;
  color?: string;
  /** Fill opacity 0..1 under the line (Grafana's fillOpacity / 100). */
  fill?: number;
  lineWidth?: number;
  /** Draw as bars or points instead of a line. */
  style?: "line" | "bars" | "points";
  /** Summed on top of the series before it (Grafana's stacking "normal"). */
  stack?: boolean;
  hidden?: boolean;
  /** Values are negated on the chart (Grafana's transform: negative-Y); the legend shows them as they are. */
  negate?: boolean;
}

export interface ChartOptions {
  /** Unix seconds, ascending, shared by every series. */
  timestamps: ArrayLike<number>;
  series: ChartSeries[];
  height: number;
  width?: number;
  /** Formats a value for the axis, legend and tooltip. */
  format?: (value: number) => string;
  min?: number | null;
  max?: number | null;
  /** Percent-of-total stacking (Grafana's stacking "percent"). */
  percent?: boolean;
  legend?: boolean;
  /** Lines from threshold steps: value and colour. */
  thresholds?: { value: number; color: string }[];
}

export interface Chart {
  plot: uPlot;
  destroy(): void;
}

/**
 * Lines up range-query series on one time axis from start to end by step (seconds), with
 * null where a series has no sample; float arrays so no object is made per sample.
 */
export function alignMatrix(
  result: MatrixSeries[],
  start: number,
  end: number,
  step: number,
): { timestamps: Float64Array; columns: (number | null)[][] } {
  const n = Math.max(0, Math.floor((end - start) / step + 1e-9) + 1);
  const timestamps = new Float64Array(n);
  for (let i = 0; i < n; i++) timestamps[i] = start + i * step;
  const columns = result.map((series) => {
    const column: (number | null)[] = new Array(n).fill(null);
    for (const [t, v] of series.values) {
      const i = Math.round((t - start) / step);
      if (i >= 0 && i < n) {
        const f = parseFloat(v);
        column[i] = Number.isFinite(f) ? f : null;
      }
    }
    return column;
  });
  return { timestamps, columns };
}

export function timeChart(el: HTMLElement, options: ChartOptions): Chart {
  const format = options.format ?? ((v: number) => formatShort(v));
  const raw = options.series.map((s) => s.values);
  const drawn = stackedValues(options);
  const paths = uPlot.paths;
  const series: uPlot.Series[] = [
    {},
    ...options.series.map((s, i): uPlot.Series => {
      const color = s.color ?? PALETTE[i % PALETTE.length];
      const style = s.style ?? "line";
      return {
        label: s.label,
        stroke: color,
        width: s.lineWidth ?? 1,
        fill: s.fill ? withAlpha(color, s.fill) : undefined,
        show: !s.hidden,
        spanGaps: false,
        points: { show: style === "points", size: 3, fill: color },
        paths: style === "bars" && paths.bars ? paths.bars({ size: [0.8, 64] }) : undefined,
        // The legend shows the value as the query returned it, not the stacked sum.
        value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => {
          if (idx === null) return "";
          const v = raw[i][idx];
          return v === null || v === undefined ? "" : format(v);
        },
      };
    }),
  ];
  const width = options.width ?? Math.max(200, el.clientWidth || 600);
  const opts: uPlot.Options = {
    width,
    height: options.height,
    series,
    legend: { show: options.legend ?? true, live: true },
    cursor: { points: { size: 6 }, drag: { x: true, y: false } },
    scales: {
      x: { time: true },
      y: {
        range: (_u, lo, hi) => {
          const min = options.min ?? (lo >= 0 ? 0 : lo);
          let max = options.max ?? hi;
          if (max <= min) max = min + 1;
          return [min, options.max ?? max + (max - min) * 0.05];
        },
      },
    },
    axes: [
      { stroke: "#8e8e8e", grid: { stroke: "rgba(128,128,128,0.15)" } },
      {
        stroke: "#8e8e8e",
        grid: { stroke: "rgba(128,128,128,0.15)" },
        size: 64,
        values: (_u, splits) => splits.map((v) => format(options.series.some((s) => s.negate) ? Math.abs(v) : v)),
      },
    ],
    hooks: options.thresholds?.length
      ? { draw: [(u: uPlot) => drawThresholds(u, options.thresholds ?? [])] }
      : {},
  };
  const plot = new uPlot(opts, [Array.from(options.timestamps), ...drawn] as uPlot.AlignedData, el);
  const observer = new ResizeObserver(() => {
    const w = el.clientWidth;
    if (w > 0 && Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: options.height });
  });
  observer.observe(el);
  return {
    plot,
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}

function stackedValues(options: ChartOptions): (number | null)[][] {
  const n = options.timestamps.length;
  const out: (number | null)[][] = [];
  const sums = new Float64Array(n);
  let totals: Float64Array | null = null;
  if (options.percent) {
    totals = new Float64Array(n);
    for (const s of options.series) {
      if (!s.stack || s.hidden) continue;
      for (let i = 0; i < n; i++) totals[i] += Math.abs(s.values[i] ?? 0);
    }
  }
  for (const s of options.series) {
    const sign = s.negate ? -1 : 1;
    if (!s.stack || s.hidden) {
      out.push(Array.from(s.values, (v) => (v === null ? null : sign * v)));
      continue;
    }
    const column: (number | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = s.values[i];
      if (v === null || v === undefined) {
        column[i] = null;
        continue;
      }
      const part = totals ? (totals[i] ? v / totals[i] : 0) : v;
      sums[i] += sign * part;
      column[i] = sums[i];
    }
    out.push(column);
  }
  return out;
}

function drawThresholds(u: uPlot, steps: { value: number; color: string }[]): void {
  const ctx = u.ctx;
  ctx.save();
  ctx.setLineDash([4, 4]);
  ctx.lineWidth = 1;
  for (const step of steps) {
    if (!Number.isFinite(step.value)) continue;
    const y = u.valToPos(step.value, "y", true);
    if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
    ctx.strokeStyle = step.color;
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, y);
    ctx.lineTo(u.bbox.left + u.bbox.width, y);
    ctx.stroke();
  }
  ctx.restore();
}

export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 255).toString(16).padStart(2, "0");
  return `#${m[1]}${a}`;
}

/** Grafana's "short" unit: 1.5 K, 2.3 Mil; kept here so charts need no units module. */
export function formatShort(v: number, decimals?: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  const units = ["", " K", " Mil", " Bil", " Tri"];
  let i = 0;
  let x = v;
  while (Math.abs(x) >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  const d = decimals ?? (abs === 0 ? 0 : Math.abs(x) < 10 ? 2 : Math.abs(x) < 100 ? 1 : 0);
  return `${Number(x.toFixed(d))}${units[i]}`;
}
