// Grafana's `heatmap` panel (and the pre-9 one's options): buckets over time as coloured
// cells, a colour scheme (or opacity) from the smallest to the largest count, the bucket
// bounds on the y axis, and the bucket and count of the cell under the cursor.
import { withAlpha } from "../../chart";
import { h } from "../../dom";
import { dateTime } from "../../timezone";
import { cssColor, valueFormatter } from "../fieldconfig";
import type { GrafanaPanel, PanelRenderer } from "../types";
import { cellChart, paintable } from "./cells";
import { calculateHeatmap, calculationOf } from "./heatmapcalc";
import { type HeatmapRow, heatmapData } from "./heatmapdata";
import { noData, obj } from "./reduced";
import "./panels.css";

/** d3-scale-chromatic's schemes (Grafana's choices) as a few stops, light to dark. */
const SCHEMES: Record<string, string[]> = {
  Oranges: ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"],
  Reds: ["#fff5f0", "#fcbba1", "#fb6a4a", "#cb181d", "#67000d"],
  Greens: ["#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b"],
  Blues: ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"],
  Purples: ["#fcfbfd", "#dadaeb", "#9e9ac8", "#6a51a3", "#3f007d"],
  Greys: ["#ffffff", "#d9d9d9", "#969696", "#525252", "#000000"],
  YlOrRd: ["#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026"],
  YlGnBu: ["#ffffd9", "#c7e9b4", "#41b6c4", "#225ea8", "#081d58"],
  RdYlGn: ["#a50026", "#f46d43", "#ffffbf", "#66bd63", "#006837"],
  Spectral: ["#9e0142", "#f46d43", "#ffffbf", "#66c2a5", "#5e4fa2"],
  Viridis: ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"],
  Plasma: ["#0d0887", "#7e03a8", "#cc4778", "#f89540", "#f0f921"],
  Inferno: ["#000004", "#57106e", "#bc3754", "#f98e09", "#fcffa4"],
  Turbo: ["#30123b", "#28bbec", "#a2fc3c", "#fb8022", "#7a0403"],
};

interface Look {
  mode: "scheme" | "opacity";
  stops: string[];
  fill: string;
  exponent: number;
  min: number | null;
  max: number | null;
  /** Cells at or below this count are not drawn (Grafana's filterValues.le, hideZeroBuckets). */
  hideBelow: number | null;
  yUnit: string;
  yDecimals: number | null;
  cellUnit: string;
  cellDecimals: number | null;
  legend: boolean;
  tooltip: boolean;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** The panel's options, from Grafana 9+'s `options` or the older panel's own fields. */
function look(panel: GrafanaPanel): Look {
  const o = obj(panel.options);
  const legacy = panel.dataFormat !== undefined || obj(panel.color).colorScheme !== undefined;
  const color = obj(legacy ? panel.color : o.color);
  const scheme = String(color.colorScheme ?? color.scheme ?? "Oranges").replace(/^interpolate/, "");
  let stops = SCHEMES[scheme] ?? SCHEMES.Oranges;
  if (color.reverse === true) stops = [...stops].reverse();
  const mode = color.mode === "opacity" ? "opacity" : "scheme";
  const y = obj(legacy ? panel.yAxis : o.yAxis);
  const cells = obj(o.cellValues);
  const unit = panel.fieldConfig?.defaults?.unit;
  // Calculated buckets are ranges of the series' values (in their unit); cells count samples.
  const calculated = o.calculate === true;
  const filter = obj(o.filterValues);
  const hideBelow = legacy ? (panel.hideZeroBuckets === true ? 0 : null) : num(filter.le) ?? (o.filterValues === undefined ? 1e-9 : null);
  return {
    mode,
    stops,
    fill: paintable(cssColor(String(color.fill ?? color.cardColor ?? "dark-orange"))),
    exponent: color.scale === "linear" ? 1 : num(color.exponent) ?? 0.5,
    min: num(color.min),
    max: num(color.max),
    hideBelow,
    yUnit: String(y.unit ?? y.format ?? (calculated ? unit : undefined) ?? "short"),
    yDecimals: num(y.decimals),
    cellUnit: String(cells.unit ?? (calculated ? undefined : unit) ?? "short"),
    cellDecimals: num(cells.decimals),
    legend: obj(o.legend).show !== false && obj(panel.legend).show !== false,
    tooltip: obj(o.tooltip).show !== false && obj(panel.tooltip).show !== false,
  };
}

function mix(a: string, b: string, f: number): string {
  const pa = parseInt(a.slice(1), 16);
  const pb = parseInt(b.slice(1), 16);
  const c = [16, 8, 0].map((s) => Math.round(((pa >> s) & 255) + (((pb >> s) & 255) - ((pa >> s) & 255)) * f));
  return `rgb(${c.join(", ")})`;
}

/** The colour of a cell at `t` (0..1 of min..max). */
function heatColor(l: Look, t: number): string {
  const x = Math.min(1, Math.max(0, t));
  if (l.mode === "opacity") {
    const alpha = Math.pow(x, l.exponent);
    return withAlpha(l.fill, alpha);
  }
  const at = x * (l.stops.length - 1);
  const i = Math.min(l.stops.length - 2, Math.floor(at));
  return mix(l.stops[i], l.stops[i + 1], at - i);
}

function bucketText(row: HeatmapRow, format: (v: number) => string): string {
  if (row.upper === null) return row.name;
  if (row.lower === null) return `≤ ${format(row.upper)}`;
  if (row.upper === Infinity) return `> ${format(row.lower)}`;
  return `${format(row.lower)} – ${format(row.upper)}`;
}

function legendBar(l: Look, lo: number, hi: number, format: (v: number) => string): HTMLElement {
  const stops = l.mode === "opacity" ? [heatColor(l, 0), heatColor(l, 1)] : l.stops;
  const bar = h("span", { class: "vp-heat-scale" });
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  return h("div", { class: "vp-heat-legend" }, h("span", { class: "vp-heat-min" }, format(lo)), bar, h("span", { class: "vp-heat-max" }, format(hi)));
}

export const heatmapPanel: PanelRenderer = (el, ctx) => {
  const calc = calculationOf(ctx.panel.options);
  const data = calc ? calculateHeatmap(ctx.frames, calc) : heatmapData(ctx.frames, ctx.panel.targets ?? []);
  if (!data) {
    el.append(noData(ctx.panel));
    return;
  }
  const l = look(ctx.panel);
  const yFormat = valueFormatter(l.yUnit, l.yDecimals);
  const cellFormat = valueFormatter(l.cellUnit, l.cellDecimals);
  const shown = (c: number | null): c is number => c !== null && !Number.isNaN(c) && (l.hideBelow === null || c > l.hideBelow);
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of data.rows) for (const c of row.counts) if (shown(c)) [lo, hi] = [Math.min(lo, c), Math.max(hi, c)];
  if (lo === Infinity) [lo, hi] = [0, 1];
  lo = l.min ?? lo;
  hi = l.max ?? hi;
  const at = (c: number): number => (hi === lo ? 1 : (c - lo) / (hi - lo));
  // Rows are drawn top to bottom: the largest bucket first.
  const rows = [...data.rows].reverse();
  const legendH = l.legend ? 22 : 0;
  const plotBox = h("div", { class: "vp-heat-plot" });
  el.append(plotBox);
  if (l.legend) el.append(legendBar(l, lo, hi, cellFormat));
  const { timestamps, step } = data;
  return cellChart(plotBox, {
    rows: rows.map((r) =>
      r.upper === null ? r.name : data.layout === "ge" && r.lower !== null ? yFormat(r.lower) : r.upper === Infinity ? "+Inf" : yFormat(r.upper),
    ),
    from: ctx.from,
    to: ctx.to,
    width: ctx.width,
    height: Math.max(60, ctx.height - legendH),
    onZoom: ctx.onZoom,
    sync: ctx.sync,
    paint: ({ ctx: c, x, top, rowHeight, ratio }) => {
      const gap = Math.min(ratio, rowHeight / 4);
      rows.forEach((row, r) => {
        for (let i = 0; i < timestamps.length; i++) {
          const count = row.counts[i];
          if (!shown(count)) continue;
          const x0 = x(timestamps[i] - step);
          const x1 = x(timestamps[i]);
          c.fillStyle = heatColor(l, at(count));
          c.fillRect(x0, top(r), Math.max(ratio, x1 - x0 - gap), rowHeight - gap);
        }
      });
    },
    hover: (t, r) => {
      if (!l.tooltip) return null;
      const i = Math.ceil((t - timestamps[0]) / step - 1e-9);
      const row = rows[r];
      const count = row?.counts[i];
      if (i < 0 || i >= timestamps.length || count === null || count === undefined) return null;
      return {
        title: dateTime(timestamps[i] * 1000),
        lines: [{ color: shown(count) ? heatColor(l, at(count)) : "transparent", name: bucketText(row, yFormat), value: cellFormat(count) }],
      };
    },
  });
};
