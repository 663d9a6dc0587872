// Grafana's `histogram` panel: how many of each series' values fall in each bucket, one bar
// per bucket (per series, or all series combined), the buckets' bounds in the field's unit.
import { type DisplayValue, resolveField } from "../fieldconfig";
import type { PanelRenderer } from "../types";
import { barsChart } from "./bars";
import { histogramBuckets } from "./histogramdata";
import { noData, obj } from "./reduced";
import "./panels.css";

function count(n: number, color: string): DisplayValue {
  return { text: String(n), prefix: "", suffix: "", numeric: n, color, percent: 0 };
}

export const histogramPanel: PanelRenderer = (el, ctx) => {
  const o = obj(ctx.panel.options);
  const fields = ctx.frames.map((frame, index) => ({ frame, field: resolveField(ctx.panel, frame, { index, interpolate: ctx.interpolate }) })).filter((x) => !x.field.hidden);
  const combine = o.combine === true;
  const buckets = histogramBuckets(combine ? [fields.flatMap((x) => x.frame.values)] : fields.map((x) => x.frame.values), {
    size: typeof o.bucketSize === "number" ? o.bucketSize : null,
    offset: typeof o.bucketOffset === "number" ? o.bucketOffset : null,
  });
  if (!buckets) {
    el.append(noData(ctx.panel));
    return;
  }
  const format = fields[0].field.format;
  const series = buckets.counts.map((counts, si) => {
    const field = fields[si].field;
    const color = field.display(0).color;
    return { name: combine ? "Count" : field.name, color, values: counts.map((n) => count(n, color)) };
  });
  el.append(barsChart({
    categories: buckets.lowers.map(format),
    series,
    width: ctx.width,
    height: ctx.height,
    vertical: true,
    showValue: "never",
    groupWidth: 1,
    barWidth: 0.97,
    min: 0,
    max: null,
    format: (v) => String(v),
    legend: obj(o.legend).showLegend !== false,
  }));
};
