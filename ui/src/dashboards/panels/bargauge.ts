// Grafana's `bargauge` panel: one bar per reduced value (basic, gradient or LCD cells),
// horizontal or vertical, filled from min to the value, coloured by thresholds/mappings.
import { h } from "../../dom";
import { activeThreshold, cssColor, thresholdInput } from "../fieldconfig";
import type { PanelRenderer } from "../types";
import { type ReducedValue, noData, obj, reducedValues, str, valueNodes } from "./reduced";
import "./panels.css";

/** The threshold colour at absolute value `v` of a bar's field. */
function colorAt(r: ReducedValue, v: number): string {
  const step = activeThreshold(r.field.thresholds, thresholdInput(r.field.thresholdsMode, v, r.min, r.max));
  return cssColor(step?.color ?? "green");
}

function fraction(r: ReducedValue): number {
  const v = r.display.numeric;
  if (v === null || Number.isNaN(v)) return 0;
  return r.max === r.min ? 1 : Math.min(1, Math.max(0, (v - r.min) / (r.max - r.min)));
}

/** Grafana's gradient mode: the threshold colours met between min and the value, in order. */
function gradient(r: ReducedValue, vertical: boolean, f: number): string {
  const dir = vertical ? "to top" : "to right";
  const value = r.min + f * (r.max - r.min);
  const stops: string[] = [];
  const n = 16;
  for (let i = 0; i <= n; i++) {
    const v = r.min + ((value - r.min) * i) / n;
    stops.push(`${colorAt(r, v)} ${((i / n) * 100).toFixed(1)}%`);
  }
  if (r.display.color !== colorAt(r, value)) return r.display.color; // a mapping chose the colour
  return `linear-gradient(${dir}, ${stops.join(", ")})`;
}

function lcdCells(r: ReducedValue, f: number, length: number, unfilled: boolean): HTMLElement[] {
  const count = Math.max(3, Math.min(60, Math.floor(length / 14)));
  const cells: HTMLElement[] = [];
  for (let i = 0; i < count; i++) {
    const center = (i + 0.5) / count;
    const cell = h("span", { class: "vp-lcd-cell" });
    cell.style.backgroundColor = colorAt(r, r.min + center * (r.max - r.min));
    if (center > f) cell.style.opacity = unfilled ? "0.18" : "0";
    cells.push(cell);
  }
  return cells;
}

export const barGaugePanel: PanelRenderer = (el, ctx) => {
  const values = reducedValues(ctx);
  if (!values.length) {
    el.append(noData(ctx.panel));
    return;
  }
  const o = obj(ctx.panel.options);
  const mode = str(o.displayMode, "gradient");
  const orientation = str(o.orientation, "auto");
  // Grafana's VizRepeater: "auto" is vertical bars side by side in a wide panel.
  const vertical = orientation === "vertical" || (orientation === "auto" && ctx.width > ctx.height);
  const unfilled = o.showUnfilled !== false;
  const valueMode = str(o.valueMode, "color");
  const namePlacement = str(o.namePlacement, "auto");
  const showName = namePlacement !== "hidden" && (values.length > 1 || namePlacement === "top" || namePlacement === "left");
  const list = h("div", { class: `vp-bars ${vertical ? "vp-vertical" : "vp-horizontal"}`, role: "list" });
  const length = vertical ? ctx.height - 40 : ctx.width - 80;
  for (const r of values) {
    const f = fraction(r);
    const d = r.display;
    const fill = h("div", { class: "vp-bar-fill" });
    const track = h("div", { class: `vp-bar-track vp-${mode === "lcd" ? "lcd" : "solid"}${unfilled ? "" : " vp-no-unfilled"}` });
    if (mode === "lcd") track.append(...lcdCells(r, f, length, unfilled));
    else {
      if (vertical) fill.style.height = `${(f * 100).toFixed(2)}%`;
      else fill.style.width = `${(f * 100).toFixed(2)}%`;
      fill.style.background = mode === "gradient" ? gradient(r, vertical, f) : d.color;
      track.append(fill);
    }
    const value = valueMode === "hidden" ? null : h("div", { class: "vp-bar-value" }, valueNodes(d));
    if (value && valueMode === "color") value.style.color = d.color;
    const name = showName ? h("div", { class: "vp-bar-name" }, r.name) : null;
    list.append(
      h(
        "div",
        { class: "vp-bar", role: "listitem", title: `${r.name}: ${d.prefix}${d.text}${d.suffix}` },
        vertical ? [value, track, name] : [name, h("div", { class: "vp-bar-row" }, track, value)],
      ),
    );
  }
  el.append(list);
};
