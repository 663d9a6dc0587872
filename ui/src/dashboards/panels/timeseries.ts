// Grafana's `timeseries` panel and the legacy `graph` panel, drawn by uPlot (chart.ts).
// Both are mapped to one description (series styles, axis, legend), so the drawing is shared.
import { type ChartSeries, PALETTE, type TooltipOptions, cssColor, timeChart } from "../../chart";
import { h } from "../../dom";
import { attachDataLinks, parseDataLinks } from "../datalinks";
import { resolveField } from "../fieldconfig";
import type { Frame, GrafanaPanel, PanelContext, PanelRenderer } from "../types";
import { unitFormatter } from "../units";

type Json = Record<string, unknown>;

interface Legend {
  show: boolean;
  table: boolean;
  calcs: string[];
}

interface Plan {
  series: ChartSeries[];
  format: (v: number) => string;
  min: number | null;
  max: number | null;
  softMin: number | null;
  softMax: number | null;
  percent: boolean;
  thresholds: { value: number; color: string }[];
  thresholdsStyle: string;
  legend: Legend;
  tooltip: TooltipOptions;
  /** The y axis's title (Grafana's custom.axisLabel, the graph panel's yaxes[0].label). */
  axisLabel: string;
}

const CALC_NAMES: Record<string, string> = {
  mean: "Mean", max: "Max", min: "Min", lastNotNull: "Last *", last: "Last", first: "First",
  firstNotNull: "First *", sum: "Total", count: "Count", range: "Range", delta: "Delta", diff: "Difference",
};

function num(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}

function obj(v: unknown): Json {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {};
}

/** Frames from targets with different steps are put on the densest frame's time axis. */
function unify(frames: Frame[]): { timestamps: Float64Array; columns: (number | null)[][] } {
  let base = frames[0].timestamps;
  for (const f of frames) if (f.timestamps.length > base.length) base = f.timestamps;
  const n = base.length;
  const step = n > 1 ? base[1] - base[0] : 1;
  const columns = frames.map((f) => {
    if (f.timestamps === base || (f.timestamps.length === n && f.timestamps[0] === base[0] && f.timestamps[n - 1] === base[n - 1])) {
      return f.values;
    }
    const col: (number | null)[] = new Array(n).fill(null);
    for (let i = 0; i < f.timestamps.length; i++) {
      const j = Math.round((f.timestamps[i] - base[0]) / step);
      if (j >= 0 && j < n) col[j] = f.values[i];
    }
    return col;
  });
  return { timestamps: base, columns };
}

function timeseriesPlan(panel: GrafanaPanel, frames: Frame[], columns: (number | null)[][], interpolate: (t: string) => string): Plan {
  const defaults = resolveField(panel, { refId: "", labels: {}, name: "", timestamps: new Float64Array(0), values: [] });
  const dc = defaults.custom;
  const stacking = obj(dc.stacking);
  const percent = stacking.mode === "percent";
  const series: ChartSeries[] = frames.map((frame, i) => {
    const field = resolveField(panel, frame, { index: i, interpolate });
    const c = field.custom;
    const st = obj(c.stacking);
    const draw = c.drawStyle === "bars" ? "bars" : c.drawStyle === "points" ? "points" : "line";
    const hideFrom = obj(c.hideFrom);
    return {
      label: field.name || frame.name,
      values: columns[i],
      color: field.color ?? PALETTE[i % PALETTE.length],
      fill: (num(c.fillOpacity) ?? (draw === "bars" ? 80 : 0)) / 100,
      lineWidth: num(c.lineWidth) ?? 1,
      style: draw,
      stack: (st.mode ?? stacking.mode ?? "none") !== "none",
      hidden: field.hidden || hideFrom.viz === true,
      negate: c.transform === "negative-Y",
      hideFromTooltip: hideFrom.tooltip === true,
    };
  });
  const options = obj(panel.options);
  const tt = obj(options.tooltip);
  const lg = obj(options.legend);
  const calcs = Array.isArray(lg.calcs) ? lg.calcs.filter((x): x is string => typeof x === "string") : [];
  const thresholdsMode = String(obj(dc.thresholdsStyle).mode ?? "off");
  return {
    series,
    format: percent ? unitFormatter("percentunit", defaults.decimals) : defaults.format,
    min: defaults.min,
    max: defaults.max,
    softMin: num(dc.axisSoftMin),
    softMax: num(dc.axisSoftMax),
    percent,
    thresholds: thresholdsMode === "off"
      ? []
      : defaults.thresholds.filter((t) => t.value !== null).map((t) => ({ value: t.value as number, color: t.color })),
    thresholdsStyle: thresholdsMode,
    axisLabel: typeof dc.axisLabel === "string" ? interpolate(dc.axisLabel) : "",
    legend: {
      show: lg.showLegend !== false && lg.displayMode !== "hidden",
      table: lg.displayMode === "table",
      calcs,
    },
    // Grafana's timeseries default is "single"; an unknown mode falls back to it too.
    tooltip: {
      mode: tt.mode === "multi" || tt.mode === "none" ? tt.mode : "single",
      sort: tt.sort === "asc" || tt.sort === "desc" ? tt.sort : "none",
      hideZeros: tt.hideZeros === true,
    },
  };
}

/** An alias from a seriesOverride: "/regex/" or the exact name. */
function aliasMatches(alias: unknown, name: string): boolean {
  if (typeof alias !== "string" || !alias) return false;
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(alias);
  if (m) {
    try {
      return new RegExp(m[1], m[2].replace("g", "")).test(name);
    } catch {
      return false;
    }
  }
  return alias === name;
}

function graphPlan(panel: GrafanaPanel, frames: Frame[], columns: (number | null)[][]): Plan {
  const y = panel.yaxes?.[0] ?? {};
  const unit = y.format ?? "short";
  const decimals = num(y.decimals ?? panel.decimals);
  const overrides = (panel.seriesOverrides ?? []).map(obj);
  const baseStyle = panel.bars ? "bars" : panel.points && panel.lines === false ? "points" : "line";
  const series: ChartSeries[] = frames.map((frame, i) => {
    let fill = num(panel.fill) ?? 1;
    let lineWidth = num(panel.linewidth) ?? 1;
    let stack = panel.stack === true;
    let style: ChartSeries["style"] = baseStyle;
    let negate = false;
    let color: string | undefined;
    let hidden = false;
    let hideFromTooltip = false;
    for (const o of overrides) {
      if (!aliasMatches(o.alias, frame.name)) continue;
      if (o.transform === "negative-Y") negate = true;
      if (o.stack === false) stack = false;
      else if (o.stack === true || typeof o.stack === "string") stack = true;
      if (num(o.fill) !== null) fill = num(o.fill) as number;
      if (num(o.linewidth) !== null) lineWidth = num(o.linewidth) as number;
      if (typeof o.color === "string") color = o.color;
      if (o.bars === true) style = "bars";
      if (o.lines === false && o.points === true) style = "points";
      if (o.hiddenSeries === true) hidden = true;
      if (o.hideTooltip === true) hideFromTooltip = true;
    }
    return {
      label: frame.name,
      values: columns[i],
      color: color ?? PALETTE[i % PALETTE.length],
      fill: Math.max(0, Math.min(10, fill)) / 10,
      lineWidth,
      style,
      stack,
      negate,
      hidden,
      hideFromTooltip,
    };
  });
  const legend = obj(panel.legend);
  const calcs: string[] = [];
  if (legend.values === true) {
    if (legend.min === true) calcs.push("min");
    if (legend.max === true) calcs.push("max");
    if (legend.avg === true) calcs.push("mean");
    if (legend.current === true) calcs.push("lastNotNull");
    if (legend.total === true) calcs.push("sum");
  }
  const percent = panel.percentage === true && panel.stack === true;
  // The graph panel's tooltip: shared (its default) shows every series; sort 1/2 is ascending/descending.
  const tt = obj(panel.tooltip);
  const sortCode = num(tt.sort) ?? 0;
  return {
    series,
    format: percent ? unitFormatter("percentunit", decimals) : unitFormatter(unit, decimals),
    min: num(y.min),
    max: num(y.max),
    softMin: null,
    softMax: null,
    percent,
    thresholds: legacyThresholds(panel),
    thresholdsStyle: "line",
    axisLabel: typeof y.label === "string" ? y.label : "",
    legend: { show: legend.show !== false, table: legend.alignAsTable === true || calcs.length > 0, calcs },
    tooltip: { mode: tt.shared === false ? "single" : "multi", sort: sortCode === 1 ? "asc" : sortCode === 2 ? "desc" : "none" },
  };
}

function legacyThresholds(panel: GrafanaPanel): { value: number; color: string }[] {
  const raw = panel.thresholds;
  if (!Array.isArray(raw)) return [];
  const out: { value: number; color: string }[] = [];
  for (const t of raw.map(obj)) {
    const value = num(t.value);
    if (value === null || t.line === false) continue;
    const color = typeof t.lineColor === "string" ? t.lineColor : t.colorMode === "ok" ? "green" : t.colorMode === "warning" ? "orange" : "red";
    out.push({ value, color });
  }
  return out;
}

/** One reduction of a column (Grafana's standard calcs). */
export function calc(name: string, values: ArrayLike<number | null>): number | null {
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let first: number | null = null;
  let last: number | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    if (first === null) first = v;
    last = v;
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  switch (name) {
    case "mean": return count ? sum / count : null;
    case "max": return count ? max : null;
    case "min": return count ? min : null;
    case "sum": return count ? sum : null;
    case "count": return count;
    case "range": return count ? max - min : null;
    case "lastNotNull": return last;
    case "last": return values.length ? values[values.length - 1] ?? null : null;
    case "firstNotNull": return first;
    case "first": return values.length ? values[0] ?? null : null;
    case "delta":
    case "diff": return first !== null && last !== null ? last - first : null;
    default: return null;
  }
}

function legendHeight(plan: Plan, width: number, height: number): number {
  if (!plan.legend.show || !plan.series.length) return 0;
  const rows = plan.legend.table || plan.legend.calcs.length
    ? plan.series.length + 1
    : Math.ceil(plan.series.reduce((acc, s) => acc + 40 + s.label.length * 7, 0) / Math.max(100, width));
  return Math.min(Math.round(height * 0.45), rows * 22 + 6);
}

function draw(el: HTMLElement, ctx: PanelContext, plan: Plan, timestamps: Float64Array): () => void {
  const legendH = legendHeight(plan, ctx.width, ctx.height);
  const tableLegend = plan.legend.show && (plan.legend.table || plan.legend.calcs.length > 0);
  const plotBox = h("div", { class: "ts-plot" });
  const legendBox = h("div", { class: "ts-legend", style: `max-height:${legendH}px` });
  const labelWidth = plan.axisLabel ? 18 : 0;
  el.append(plan.axisLabel ? h("div", { class: "ts-row" }, h("div", { class: "ts-axis-label", title: plan.axisLabel }, plan.axisLabel), plotBox) : plotBox);
  if (legendH) el.append(legendBox);
  const chart = timeChart(plotBox, {
    timestamps,
    series: plan.series,
    width: ctx.width - labelWidth,
    height: Math.max(60, ctx.height - legendH),
    format: plan.format,
    min: plan.min,
    max: plan.max,
    softMin: plan.softMin,
    softMax: plan.softMax,
    percent: plan.percent,
    legend: plan.legend.show && !tableLegend,
    thresholds: plan.thresholds,
    thresholdsStyle: plan.thresholdsStyle,
    tooltip: plan.tooltip,
    onZoom: ctx.onZoom,
    sync: ctx.sync,
  });
  if (legendH && !tableLegend) {
    const native = chart.plot.root.querySelector(".u-legend");
    if (native) legendBox.append(native);
  } else if (legendH) {
    legendBox.append(legendTable(plan, chart.plot.setSeries.bind(chart.plot)));
  }
  const links = parseDataLinks(ctx.panel);
  const unlink = links.length
    ? attachDataLinks(chart.plot, plotBox, links, (i) => ({
        labels: ctx.frames[i]?.labels ?? {},
        fromMs: ctx.from * 1000,
        toMs: ctx.to * 1000,
        interpolate: ctx.interpolate,
      }))
    : null;
  return () => {
    unlink?.();
    chart.destroy();
  };
}

function legendTable(plan: Plan, setSeries: (i: number, opts: { show: boolean }) => void): HTMLTableElement {
  const calcs = plan.legend.calcs;
  const head = h("tr", null, h("th", { scope: "col" }, "Name"), calcs.map((c) => h("th", { scope: "col", class: "num" }, CALC_NAMES[c] ?? c)));
  const rows = plan.series.map((s, i) => {
    let shown = !s.hidden;
    const color = cssColor(s.color ?? PALETTE[i % PALETTE.length]);
    const button = h("button", { type: "button", class: "legend-name", "aria-pressed": String(shown) },
      h("span", { class: "swatch", style: `background:${color}` }), h("span", { class: "legend-label", title: s.label }, s.label));
    button.addEventListener("click", () => {
      shown = !shown;
      button.setAttribute("aria-pressed", String(shown));
      setSeries(i + 1, { show: shown });
    });
    return h("tr", null, h("td", null, button), calcs.map((c) => {
      const v = calc(c, s.values);
      return h("td", { class: "num" }, v === null ? "" : c === "count" ? String(v) : plan.format(v));
    }));
  });
  return h("table", { class: "legend-table" }, h("thead", null, head), h("tbody", null, rows));
}

export const timeseriesPanel: PanelRenderer = (el, ctx) => {
  const { timestamps, columns } = unify(ctx.frames);
  return draw(el, ctx, timeseriesPlan(ctx.panel, ctx.frames, columns, ctx.interpolate), timestamps);
};

export const graphPanel: PanelRenderer = (el, ctx) => {
  const { timestamps, columns } = unify(ctx.frames);
  return draw(el, ctx, graphPlan(ctx.panel, ctx.frames, columns), timestamps);
};
