// Grafana's `gauge` panel: a 240° arc per reduced value, filled from min to the value in its
// threshold colour, with the threshold bands as an outer ring. SVG built node by node.
import { h } from "../../dom";
import { cssColor } from "../fieldconfig";
import type { PanelRenderer, Threshold } from "../types";
import { type ReducedValue, gridShape, noData, obj, reducedValues, str, svg } from "./reduced";
import "./panels.css";

const START = 150;
const SWEEP = 240;
const CX = 100;
const CY = 100;

function point(r: number, deg: number): string {
  const a = (deg * Math.PI) / 180;
  return `${(CX + r * Math.cos(a)).toFixed(2)},${(CY + r * Math.sin(a)).toFixed(2)}`;
}

/** An SVG arc path of radius `r` from angle `a0` to `a1` (degrees, clockwise on screen). */
export function arcPath(r: number, a0: number, a1: number): string {
  const span = Math.max(0, Math.min(SWEEP, a1 - a0));
  if (span <= 0.01) return "";
  return `M${point(r, a0)}A${r},${r} 0 ${span > 180 ? 1 : 0} 1 ${point(r, a0 + span)}`;
}

/** Where `v` sits on the arc, in degrees. */
function angle(v: number, min: number, max: number): number {
  const t = max === min ? 1 : (v - min) / (max - min);
  return START + SWEEP * Math.min(1, Math.max(0, t));
}

function band(r: number, width: number, a0: number, a1: number, color: string): SVGPathElement | null {
  const d = arcPath(r, a0, a1);
  if (!d) return null;
  const path = svg("path", { d, fill: "none", "stroke-width": width });
  path.style.stroke = color;
  return path;
}

/** The threshold steps as absolute [from, to, colour] bands clipped to min..max. */
function thresholdBands(steps: Threshold[], mode: string, min: number, max: number): [number, number, string][] {
  const at = (s: Threshold): number => {
    if (s.value === null) return -Infinity;
    return mode === "percentage" ? min + (s.value / 100) * (max - min) : s.value;
  };
  const out: [number, number, string][] = [];
  steps.forEach((s, i) => {
    const from = Math.max(min, at(s));
    const to = Math.min(max, i + 1 < steps.length ? at(steps[i + 1]) : max);
    if (to > from) out.push([from, to, cssColor(s.color)]);
  });
  return out;
}

function gauge(v: ReducedValue, showMarkers: boolean, showName: boolean, titleSize: number | null): HTMLElement {
  const d = v.display;
  const { min, max } = v;
  const root = svg("svg", { class: "vp-gauge-svg", viewBox: "0 0 200 165", preserveAspectRatio: "xMidYMid meet", role: "img" });
  root.setAttribute("aria-label", `${v.name}: ${d.prefix}${d.text}${d.suffix}`);
  const r = showMarkers ? 74 : 80;
  const width = showMarkers ? 18 : 24;
  const track = band(r, width, START, START + SWEEP, "var(--gauge-track)");
  if (track) root.append(track);
  if (showMarkers) {
    for (const [from, to, color] of thresholdBands(v.field.thresholds, v.field.thresholdsMode, min, max)) {
      const b = band(92, 6, angle(from, min, max), angle(to, min, max), color);
      if (b) root.append(b);
    }
  }
  if (d.numeric !== null && !Number.isNaN(d.numeric)) {
    const fill = band(r, width, START, angle(d.numeric, min, max), d.color);
    if (fill) root.append(fill);
  }
  const text = `${d.prefix}${d.text}${d.suffix}`;
  const size = Math.max(10, Math.min(44, 230 / Math.max(text.length, 1)));
  const value = svg("text", { x: CX, y: CY + size * 0.35, "text-anchor": "middle", class: "vp-gauge-value", "font-size": size.toFixed(1) });
  value.style.fill = d.color;
  value.append(d.prefix, d.text);
  if (d.suffix) value.append(svg("tspan", { class: "vp-unit" }, d.suffix));
  root.append(value);
  const title = showName ? h("div", { class: "vp-gauge-title" }, v.name) : null;
  if (title && titleSize) title.style.fontSize = `${titleSize}px`;
  return h("div", { class: "vp-gauge", title: `${v.name}: ${text}` }, title, root);
}

export const gaugePanel: PanelRenderer = (el, ctx) => {
  const values = reducedValues(ctx);
  if (!values.length) {
    el.append(noData(ctx.panel));
    return;
  }
  const o = obj(ctx.panel.options);
  const legacy = obj(ctx.panel.gauge);
  const showMarkers = ctx.panel.type === "singlestat" ? legacy.thresholdMarkers !== false : o.showThresholdMarkers !== false;
  const text = obj(o.text);
  const titleSize = typeof text.titleSize === "number" ? text.titleSize : null;
  const { cols, rows } = gridShape(values.length, ctx.width, ctx.height, str(o.orientation, "auto"));
  const grid = h("div", { class: "vp-stat-grid" });
  grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
  grid.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
  for (const v of values) grid.append(gauge(v, showMarkers, values.length > 1, titleSize));
  el.append(grid);
};
