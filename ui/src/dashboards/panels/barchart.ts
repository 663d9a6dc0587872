// Grafana's `barchart` panel over Prometheus results: instant results as one bar per series
// (named by options.xField's label, else by its display name; one bar per query in each group),
// range results as a group per time. Colours, units, mappings and min/max from the field config.
import { dateTime } from "../../timezone";
import { type DisplayValue, dataRange, resolveField } from "../fieldconfig";
import type { Frame, PanelRenderer } from "../types";
import { type BarSeries, barsChart } from "./bars";
import { noData, obj } from "./reduced";
import "./panels.css";

function lastValue(f: Frame): number | null {
  for (let i = f.values.length - 1; i >= 0; i--) if (f.values[i] !== null) return f.values[i];
  return null;
}

export const barChartPanel: PanelRenderer = (el, ctx) => {
  const o = obj(ctx.panel.options);
  const range = dataRange(ctx.frames);
  const fields = ctx.frames.map((frame, index) => ({ frame, field: resolveField(ctx.panel, frame, { index, interpolate: ctx.interpolate }) })).filter((x) => !x.field.hidden);
  if (!fields.length) {
    el.append(noData(ctx.panel));
    return;
  }
  let categories: string[];
  let series: BarSeries[];
  if (fields.every((x) => x.frame.values.length <= 1)) {
    const xField = typeof o.xField === "string" ? o.xField : "";
    const refIds = [...new Set(fields.map((x) => x.frame.refId))];
    categories = [...new Set(fields.map((x) => (xField && x.frame.labels[xField]) || x.field.name))];
    // Bars of one query share its palette colour (thresholds and mappings may colour each by value).
    series = refIds.map((refId, si) => {
      const values: (DisplayValue | null)[] = categories.map(() => null);
      let color = "";
      for (const { frame, field } of fields) {
        if (frame.refId !== refId) continue;
        const v = lastValue(frame);
        const shown = resolveField(ctx.panel, frame, { index: si, interpolate: ctx.interpolate }).display(v, range);
        color ||= shown.color;
        values[categories.indexOf((xField && frame.labels[xField]) || field.name)] = v === null ? null : shown;
      }
      return { name: refIds.length > 1 ? `Value #${refId}` : "Value", color, values };
    });
  } else {
    const times = fields.reduce((a, x) => (x.frame.timestamps.length > a.length ? x.frame.timestamps : a), fields[0].frame.timestamps);
    categories = Array.from(times, (t) => dateTime(t * 1000).slice(11, 16));
    series = fields.map(({ frame, field }) => ({
      name: field.name,
      color: field.display(lastValue(frame), range).color,
      values: Array.from(times, (_t, i) => (frame.values[i] === null || frame.values[i] === undefined ? null : field.display(frame.values[i], range))),
    }));
  }
  const defaults = resolveField(ctx.panel, { refId: "", labels: {}, name: "", timestamps: new Float64Array(0), values: [] });
  const orientation = o.orientation === "horizontal" || o.orientation === "vertical" ? o.orientation : ctx.width < ctx.height ? "horizontal" : "vertical";
  el.append(barsChart({
    categories,
    series,
    width: ctx.width,
    height: ctx.height,
    vertical: orientation === "vertical",
    showValue: o.showValue === "always" || o.showValue === "never" ? o.showValue : "auto",
    groupWidth: typeof o.groupWidth === "number" ? Math.min(1, Math.max(0, o.groupWidth)) : 0.7,
    barWidth: typeof o.barWidth === "number" ? Math.min(1, Math.max(0, o.barWidth)) : 0.97,
    min: defaults.min,
    max: defaults.max,
    format: defaults.format,
    legend: obj(o.legend).showLegend !== false,
  }));
};
