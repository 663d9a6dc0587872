// Time-series charts on uPlot: aligned data, stacking, units on the axis and in the legend.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { MatrixSeries } from "./api/types/query";
import { currentZone } from "./timezone";
import { type TooltipOptions, tooltipPlugin } from "./tooltip";

export type { TooltipMode, TooltipOptions, TooltipSort } from "./tooltip";

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
  /** Left out of the hover tooltip (Grafana's hideFrom.tooltip). */
  hideFromTooltip?: boolean;
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
  /** How thresholds are drawn (Grafana's custom.thresholdsStyle.mode): "line" (default), "dashed", "area", "line+area", "dashed+area". */
  thresholdsStyle?: string;
  /** The axis includes these values when the data does not reach them (Grafana's axisSoftMin/Max). */
  softMin?: number | null;
  softMax?: number | null;
  /** The hover tooltip; default multi (every series at the hovered time), `mode: "none"` for none. */
  tooltip?: TooltipOptions;
  /**
   * A drag across the plot calls this with the selected times (Unix seconds) instead of
   * zooming this chart alone: the page sets its range (Grafana's dashboards).
   */
  onZoom?: (from: number, to: number) => void;
  /** Charts with the same key share the crosshair (Grafana's graphTooltip 1) and, with `tooltip`, the tooltip (2). */
  sync?: { key: string; tooltip: boolean };
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
    for (const [t, v] of series.values ?? []) {
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
  const colors = options.series.map((s, i) => cssColor(s.color ?? PALETTE[i % PALETTE.length]));
  const tooltip = options.tooltip ?? { mode: "multi" };
  const series: uPlot.Series[] = [
    {},
    ...options.series.map((s, i): uPlot.Series => {
      const color = colors[i];
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
    cursor: {
      points: { size: 6 },
      drag: { x: true, y: false, setScale: !options.onZoom },
      // Only the pointer's moves are shared, never a drag's selection.
      sync: options.sync
        ? { key: options.sync.key, scales: ["x", null], filters: { pub: (type: string) => type === "mousemove" || type === "mouseleave" } }
        : undefined,
    },
    // The page's time zone, in 24-hour time as Grafana draws its axes.
    tzDate: zoneDate(),
    scales: {
      x: { time: true },
      y: {
        range: (_u, lo, hi) => yRange(options, lo, hi),
      },
    },
    axes: [
      { stroke: "#8e8e8e", grid: { stroke: "rgba(128,128,128,0.15)" }, values: TIME_TICKS },
      {
        stroke: "#8e8e8e",
        grid: { stroke: "rgba(128,128,128,0.15)" },
        space: 36,
        // Wide enough for the longest tick label ("37.3 GiB"), so no label is cut off.
        size: (_u, values) => (values?.length ? 22 + Math.ceil(7.5 * Math.max(...values.map((v) => String(v).length))) : 40),
        values: (_u, splits) => splits.map((v) => format(options.series.some((s) => s.negate) ? Math.abs(v) : v)),
      },
    ],
    hooks: {
      ...(options.thresholds?.length ? thresholdHooks(options.thresholds, options.thresholdsStyle ?? "line") : {}),
      ...(options.onZoom ? { setSelect: [zoomHook(options.onZoom)] } : {}),
    },
    plugins: tooltip.mode === "none"
      ? []
      : [tooltipPlugin(
          { ...tooltip, shared: options.sync?.tooltip ?? false },
          options.series.map((s, i) => ({ label: s.label, color: colors[i], values: raw[i], hidden: s.hideFromTooltip })),
          format,
        )],
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

/** uPlot's tzDate in the page's time zone. */
export function zoneDate(): (ts: number) => Date {
  return currentZone() === "utc" ? (ts: number) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC") : (ts: number) => new Date(ts * 1000);
}

/** The selection a drag made, handed over as a time range and then cleared. */
export function zoomHook(onZoom: (from: number, to: number) => void): (u: uPlot) => void {
  return (u) => {
    const { left, width } = u.select;
    if (width < 3) return;
    const from = u.posToVal(left, "x");
    const to = u.posToVal(left + width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (to > from) onZoom(from, to);
  };
}

/**
 * uPlot's time-tick table in 24-hour time: tick spacing (s), its label, then the labels when
 * the year, month, day, hour, minute or second rolls over (null: the plain label).
 */
export const TIME_TICKS: (string | number | null)[][] = [
  [31_536_000, "{YYYY}", null, null, null, null, null, null, 1],
  [2_419_200, "{YYYY}-{MM}", null, null, null, null, null, null, 1],
  [86_400, "{MM}-{DD}", "\n{YYYY}", null, null, null, null, null, 1],
  [3_600, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  [60, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  [1, "{HH}:{mm}:{ss}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
];

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
      if (sign === 1) out.push(s.values as (number | null)[]);
      else out.push(Array.from(s.values, (v) => (v === null ? null : -v)));
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

function yRange(options: ChartOptions, lo: number | null, hi: number | null): uPlot.Range.MinMax {
  if (options.percent && options.min == null && options.max == null) return [0, 1];
  let dataLo = lo ?? 0;
  let dataHi = hi ?? 1;
  if (options.softMin != null) dataLo = Math.min(dataLo, options.softMin);
  if (options.softMax != null) dataHi = Math.max(dataHi, options.softMax);
  const min = options.min ?? (dataLo >= 0 && options.softMin == null ? 0 : dataLo);
  let max = options.max ?? dataHi;
  if (max <= min) max = min + (Math.abs(min) || 1);
  const pad = options.max != null || (options.softMax != null && options.softMax >= (hi ?? 0)) ? 0 : (max - min) * 0.05;
  const lower = options.min != null || dataLo >= 0 || (options.softMin != null && options.softMin <= (lo ?? 0)) ? min : min - (max - min) * 0.05;
  return [lower, max + pad];
}

function thresholdHooks(steps: { value: number; color: string }[], style: string): Partial<uPlot.Hooks.Arrays> {
  const hooks: Partial<uPlot.Hooks.Arrays> = {};
  if (style.includes("area")) hooks.drawAxes = [(u: uPlot) => drawThresholdAreas(u, steps)];
  if (style !== "area") hooks.draw = [(u: uPlot) => drawThresholds(u, steps, style.startsWith("dashed"))];
  return hooks;
}

/** Bands between threshold steps, under the series; the first step runs from the bottom. */
function drawThresholdAreas(u: uPlot, steps: { value: number; color: string }[]): void {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  for (let i = 0; i < steps.length; i++) {
    const lo = Number.isFinite(steps[i].value) ? u.valToPos(steps[i].value, "y", true) : top + height;
    const next = steps[i + 1];
    const hi = next && Number.isFinite(next.value) ? u.valToPos(next.value, "y", true) : top;
    const y0 = Math.max(top, Math.min(top + height, hi));
    const y1 = Math.max(top, Math.min(top + height, lo));
    if (y1 <= y0) continue;
    ctx.fillStyle = withAlpha(cssColor(steps[i].color), 0.15);
    ctx.fillRect(left, y0, width, y1 - y0);
  }
  ctx.restore();
}

function drawThresholds(u: uPlot, steps: { value: number; color: string }[], dashed: boolean): void {
  const ctx = u.ctx;
  ctx.save();
  ctx.setLineDash(dashed ? [4, 4] : []);
  ctx.lineWidth = 1;
  for (const step of steps) {
    if (!Number.isFinite(step.value)) continue;
    const y = u.valToPos(step.value, "y", true);
    if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
    ctx.strokeStyle = cssColor(step.color);
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, y);
    ctx.lineTo(u.bbox.left + u.bbox.width, y);
    ctx.stroke();
  }
  ctx.restore();
}

/** Grafana's named colours (its classic and "semi-dark" palette names) as hex; CSS colours pass through. */
const NAMED: Record<string, string> = {
  green: "#73BF69", "semi-dark-green": "#56A64B", "dark-green": "#37872D", "light-green": "#96D98D", "super-light-green": "#C8F2C2",
  red: "#F2495C", "semi-dark-red": "#E02F44", "dark-red": "#C4162A", "light-red": "#FF7383", "super-light-red": "#FFA6B0",
  yellow: "#FADE2A", "semi-dark-yellow": "#F2CC0C", "dark-yellow": "#E0B400", "light-yellow": "#FFEE52", "super-light-yellow": "#FFF899",
  orange: "#FF9830", "semi-dark-orange": "#FF780A", "dark-orange": "#FA6400", "light-orange": "#FFB357", "super-light-orange": "#FFCB7D",
  blue: "#5794F2", "semi-dark-blue": "#3274D9", "dark-blue": "#1F60C4", "light-blue": "#8AB8FF", "super-light-blue": "#C0D8FF",
  purple: "#B877D9", "semi-dark-purple": "#A352CC", "dark-purple": "#8F3BB8", "light-purple": "#CA95E5", "super-light-purple": "#DEB6F2",
  "transparent": "#00000000", text: "#8E8E8E",
};

/** A colour canvas and withAlpha understand: Grafana names to hex, `rgb()`/hex kept. */
export function cssColor(color: string): string {
  return NAMED[color] ?? NAMED[color.toLowerCase()] ?? color;
}

export function withAlpha(color: string, alpha: number): string {
  const rgb = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)/i.exec(color);
  if (rgb) return `rgba(${rgb[1]}, ${rgb[2]}, ${rgb[3]}, ${Math.max(0, Math.min(1, alpha))})`;
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
