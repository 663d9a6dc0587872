// Grafana's `piechart` panel: each series reduced to one value (reduceOptions, as the stat
// panel), a slice per value in its field colour, optional name/value/percent labels on the
// slices, and a legend with the values and percentages asked for. SVG built node by node.
import { h } from "../../dom";
import { displayText } from "../fieldconfig";
import type { PanelRenderer } from "../types";
import { type ReducedValue, noData, obj, reducedValues, svg } from "./reduced";
import "./panels.css";

const R = 95;
const C = 100;

function point(r: number, turn: number): string {
  const a = turn * 2 * Math.PI - Math.PI / 2;
  return `${(C + r * Math.cos(a)).toFixed(2)},${(C + r * Math.sin(a)).toFixed(2)}`;
}

/** A slice from `t0` to `t1` (turns, clockwise from the top), a ring between `inner` and R for donuts. */
function slicePath(t0: number, t1: number, inner: number): string {
  // A whole circle is two half arcs: an arc's ends may not meet.
  if (t1 - t0 >= 1 - 1e-9) return `${slicePath(t0, t0 + 0.5, inner)}${slicePath(t0 + 0.5, t0 + 1 - 1e-9, inner)}`;
  const large = t1 - t0 > 0.5 ? 1 : 0;
  const outer = `M${point(R, t0)}A${R},${R} 0 ${large} 1 ${point(R, t1)}`;
  if (!inner) return `${outer}L${C},${C}Z`;
  return `${outer}L${point(inner, t1)}A${inner},${inner} 0 ${large} 0 ${point(inner, t0)}Z`;
}

function percentText(share: number): string {
  return `${Number((share * 100).toFixed(1))}%`;
}

export const pieChartPanel: PanelRenderer = (el, ctx) => {
  const values = reducedValues(ctx).filter((v) => v.display.numeric !== null && Number.isFinite(v.display.numeric) && (v.display.numeric as number) > 0);
  if (!values.length) {
    el.append(noData(ctx.panel));
    return;
  }
  const o = obj(ctx.panel.options);
  const lg = obj(o.legend);
  const total = values.reduce((a, v) => a + (v.display.numeric as number), 0);
  const share = (v: ReducedValue): number => (v.display.numeric as number) / total;
  const inner = o.pieType === "donut" ? R * 0.6 : 0;
  const labels = Array.isArray(o.displayLabels) ? o.displayLabels.filter((x): x is string => typeof x === "string") : [];
  const pie = svg("svg", { class: "vp-pie", viewBox: "0 0 200 200", role: "img", "aria-label": ctx.panel.title ?? "Pie chart" });
  let at = 0;
  for (const v of values) {
    const part = share(v);
    const path = svg("path", { d: slicePath(at, at + part, inner), class: "vp-slice" });
    path.style.fill = v.display.color;
    path.append(svg("title", {}, `${v.name}: ${displayText(v.display)} (${percentText(part)})`));
    pie.append(path);
    const words = labels.map((l) => (l === "name" ? v.name : l === "value" ? displayText(v.display) : l === "percent" ? percentText(part) : "")).filter(Boolean);
    if (words.length && part >= 0.04) {
      const [x, y] = point(inner ? (R + inner) / 2 : R * 0.62, at + part / 2).split(",");
      pie.append(svg("text", { class: "vp-slice-label", x, y, "text-anchor": "middle", "dominant-baseline": "middle" }, words.join(" ")));
    }
    at += part;
  }
  const showLegend = lg.showLegend !== false && lg.displayMode !== "hidden";
  const columns = Array.isArray(lg.values) ? lg.values.filter((x): x is string => x === "value" || x === "percent") : [];
  const legend = showLegend
    ? h("div", { class: "vp-pie-legend", role: "list" }, values.map((v) => h("div", { class: "vp-pie-item", role: "listitem" },
      h("span", { class: "vp-state-swatch", style: `background:${v.display.color}` }),
      h("span", { class: "vp-pie-name", title: v.name }, v.name),
      columns.map((c) => h("span", { class: "vp-pie-value" }, c === "value" ? displayText(v.display) : percentText(share(v)))))))
    : null;
  const bottom = lg.placement === "bottom" || ctx.width < ctx.height * 1.3;
  el.append(h("div", { class: `vp-pie-box${bottom ? " vp-pie-bottom" : ""}` }, pie, legend));
};
