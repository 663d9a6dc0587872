// Bars in groups along a category axis, with a value axis, drawn as SVG: what Grafana's bar chart
// and histogram panels draw. Every bar says its category, series and value on hover (<title>).
import { h } from "../../dom";
import { type DisplayValue, displayText } from "../fieldconfig";
import { svg } from "./reduced";

export interface BarSeries {
  name: string;
  /** The legend's colour; each bar has its value's own. */
  color: string;
  /** One per category; null draws no bar. */
  values: (DisplayValue | null)[];
}

export interface BarsOptions {
  categories: string[];
  series: BarSeries[];
  width: number;
  height: number;
  /** Bars grow up from a category axis at the bottom; else right from one on the left. */
  vertical: boolean;
  showValue: "auto" | "always" | "never";
  /** The share of a category's slot its group of bars fills (Grafana's groupWidth), and of a bar's slot the bar (barWidth). */
  groupWidth: number;
  barWidth: number;
  min: number | null;
  max: number | null;
  /** Formats the value axis' ticks. */
  format: (v: number) => string;
  legend: boolean;
}

const CHAR = 7;

/** Tick values from lo to hi at a 1/2/5 × 10^n step, about `count` of them. */
export function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const raw = span / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function barsChart(o: BarsOptions): HTMLElement {
  const numbers = o.series.flatMap((s) => s.values.map((v) => v?.numeric ?? null)).filter((v): v is number => v !== null && Number.isFinite(v));
  let lo = o.min ?? Math.min(0, ...numbers);
  let hi = o.max ?? Math.max(0, ...numbers);
  if (hi <= lo) hi = lo + 1;
  const marks = ticks(lo, hi, o.vertical ? Math.max(2, Math.floor(o.height / 50)) : Math.max(2, Math.floor(o.width / 90)));
  if (o.max === null && marks.length && marks[marks.length - 1] > hi) hi = marks[marks.length - 1];
  lo = Math.min(lo, marks[0] ?? lo);
  const legendH = o.legend ? 22 : 0;
  const height = Math.max(40, o.height - legendH);
  const tickLabels = marks.map(o.format);
  const catChars = Math.max(1, ...o.categories.map((c) => c.length));
  // Room for the axes: value ticks on the left (vertical) or below (horizontal), category names opposite.
  const left = o.vertical ? 10 + CHAR * Math.max(...tickLabels.map((t) => t.length)) : Math.min(o.width / 3, 10 + CHAR * catChars);
  const bottom = 20;
  const top = o.vertical && o.showValue !== "never" ? 18 : 8;
  const right = o.vertical ? 8 : 16;
  const plotW = Math.max(10, o.width - left - right);
  const plotH = Math.max(10, height - top - bottom);
  const root = svg("svg", { class: "vp-barchart", width: o.width, height, viewBox: `0 0 ${o.width} ${height}`, role: "img" });
  const along = o.vertical ? plotW : plotH;
  const valueLength = o.vertical ? plotH : plotW;
  const pos = (v: number): number => ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * valueLength;
  const zero = pos(Math.max(lo, Math.min(hi, 0)));
  const grid = svg("g", { class: "vp-bar-axis" });
  marks.forEach((m, i) => {
    const p = pos(m);
    if (o.vertical) {
      const y = top + plotH - p;
      grid.append(svg("line", { x1: left, x2: left + plotW, y1: y, y2: y }), svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, tickLabels[i]));
    } else {
      const x = left + p;
      grid.append(svg("line", { x1: x, x2: x, y1: top, y2: top + plotH }), svg("text", { x, y: top + plotH + 14, "text-anchor": "middle" }, tickLabels[i]));
    }
  });
  root.append(grid);
  const slot = along / Math.max(1, o.categories.length);
  const group = slot * o.groupWidth;
  const barSlot = group / Math.max(1, o.series.length);
  const bar = Math.max(1, barSlot * o.barWidth);
  // Category names that would overlap are thinned out to every k-th.
  const every = Math.max(1, Math.ceil((o.vertical ? CHAR * catChars + 6 : 14) / slot));
  const bars = svg("g", { class: "vp-bar-rects" });
  const labels = svg("g", { class: "vp-bar-labels" });
  o.categories.forEach((cat, ci) => {
    const start = ci * slot + (slot - group) / 2;
    if (ci % every === 0) {
      const mid = ci * slot + slot / 2;
      labels.append(o.vertical
        ? svg("text", { class: "vp-bar-cat", x: left + mid, y: top + plotH + 14, "text-anchor": "middle" }, cat)
        : svg("text", { class: "vp-bar-cat", x: left - 6, y: top + mid + 4, "text-anchor": "end" }, cat));
    }
    o.series.forEach((s, si) => {
      const d = s.values[ci];
      if (!d || d.numeric === null || !Number.isFinite(d.numeric)) return;
      const p = pos(d.numeric);
      const a = Math.min(p, zero);
      const len = Math.abs(p - zero);
      const offset = start + si * barSlot + (barSlot - bar) / 2;
      const text = displayText(d);
      const rect = o.vertical
        ? svg("rect", { x: left + offset, y: top + plotH - a - len, width: bar, height: len })
        : svg("rect", { x: left + a, y: top + offset, width: len, height: bar });
      rect.setAttribute("class", "vp-bar-rect");
      rect.style.fill = d.color;
      rect.append(svg("title", {}, o.series.length > 1 ? `${cat}, ${s.name}: ${text}` : `${cat}: ${text}`));
      if (len > 0) bars.append(rect);
      const fits = (o.vertical ? bar : plotW - a - len) >= CHAR * text.length;
      if (o.showValue === "never" || (o.showValue === "auto" && !fits)) return;
      labels.append(o.vertical
        ? svg("text", { class: "vp-bar-label", x: left + offset + bar / 2, y: top + plotH - a - len - 4, "text-anchor": "middle" }, text)
        : svg("text", { class: "vp-bar-label", x: left + a + len + 4, y: top + offset + bar / 2 + 4 }, text));
    });
  });
  root.append(bars, labels);
  const box = h("div", { class: "vp-barchart-box" }, root);
  if (o.legend) {
    box.append(h("div", { class: "vp-states", role: "list" },
      o.series.map((s) => h("span", { class: "vp-state", role: "listitem" }, h("span", { class: "vp-state-swatch", style: `background:${s.color}` }), s.name))));
  }
  return box;
}
