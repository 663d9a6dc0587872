// Grafana's `stat` panel (and the legacy `singlestat`, mapped onto it): one tile per reduced
// value in a wrapping grid, the value coloured by thresholds/mappings, an optional sparkline.
import { h } from "../../dom";
import type { Frame, GrafanaPanel, PanelContext, PanelRenderer } from "../types";
import { gaugePanel } from "./gauge";
import { type ReducedValue, gridShape, noData, obj, reducedValues, str, svg, textOn, valueNodes } from "./reduced";
import "./panels.css";

interface StatOptions {
  colorMode: string;
  graphMode: string;
  textMode: string;
  justifyMode: string;
  orientation: string;
  titleSize: number | null;
  valueSize: number | null;
  prefix: string;
  postfix: string;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;
}

function statOptions(panel: GrafanaPanel): StatOptions {
  const o = obj(panel.options);
  const text = obj(o.text);
  if (panel.type === "singlestat") {
    return {
      colorMode: panel.colorBackground ? "background" : panel.colorValue ? "value" : "none",
      graphMode: obj(panel.sparkline).show ? "area" : "none",
      textMode: "value",
      justifyMode: "center",
      orientation: "auto",
      titleSize: null,
      valueSize: null,
      prefix: typeof panel.prefix === "string" ? panel.prefix : "",
      postfix: typeof panel.postfix === "string" ? panel.postfix : "",
    };
  }
  return {
    colorMode: str(o.colorMode, "value"),
    graphMode: str(o.graphMode, "area"),
    textMode: str(o.textMode, "auto"),
    justifyMode: str(o.justifyMode, "auto"),
    orientation: str(o.orientation, "auto"),
    titleSize: num(text.titleSize),
    valueSize: num(text.valueSize),
    prefix: "",
    postfix: "",
  };
}

export const statPanel: PanelRenderer = (el, ctx) => {
  if (ctx.panel.type === "singlestat" && obj(ctx.panel.gauge).show) return gaugePanel(el, ctx);
  const values = reducedValues(ctx);
  if (!values.length) {
    el.append(noData(ctx.panel));
    return;
  }
  const opts = statOptions(ctx.panel);
  const { cols, rows } = gridShape(values.length, ctx.width, ctx.height, opts.orientation);
  const grid = h("div", { class: "vp-stat-grid" });
  grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
  grid.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
  const tileW = Math.max(20, ctx.width / cols - 4);
  const tileH = Math.max(20, ctx.height / rows - 4);
  for (const v of values) grid.append(tile(v, opts, values.length, tileW, tileH, ctx));
  el.append(grid);
};

function tile(v: ReducedValue, opts: StatOptions, count: number, w: number, hgt: number, ctx: PanelContext): HTMLElement {
  const d = v.display;
  const mode = opts.textMode === "auto" ? (count > 1 ? "value_and_name" : "value") : opts.textMode;
  const showName = mode === "value_and_name" || mode === "name";
  const showValue = mode === "value_and_name" || mode === "value";
  const background = opts.colorMode === "background" || opts.colorMode === "background_solid";
  const spark = opts.graphMode === "area" && v.sparkline !== null && hgt > 50;

  const shown = `${opts.prefix}${d.prefix}${d.text}${d.suffix}${opts.postfix}`;
  const valueRoom = spark ? hgt * 0.55 : hgt;
  const auto = Math.min(valueRoom * (showName ? 0.45 : 0.7), (w * 0.92) / (0.6 * Math.max(shown.length, 1)));
  const valueSize = opts.valueSize ?? Math.max(10, Math.min(120, auto));
  const titleSize = opts.titleSize ?? Math.max(10, Math.min(22, valueSize * 0.4, hgt * 0.2));

  const value = h(
    "div",
    { class: "vp-stat-value" },
    opts.prefix ? h("span", { class: "vp-unit" }, opts.prefix) : null,
    valueNodes(d),
    opts.postfix ? h("span", { class: "vp-unit" }, opts.postfix) : null,
  );
  value.style.fontSize = `${valueSize}px`;
  if (opts.colorMode === "value") value.style.color = d.color;
  const title = h("div", { class: "vp-stat-title" }, v.name);
  title.style.fontSize = `${titleSize}px`;

  const box = h(
    "div",
    { class: `vp-stat${opts.justifyMode === "center" || count === 1 ? " vp-center" : ""}`, title: `${v.name}: ${shown}` },
    h("div", { class: "vp-stat-text" }, showName ? title : null, showValue ? value : null),
  );
  if (background) {
    box.classList.add("vp-bg");
    box.style.backgroundColor = d.color;
    box.style.color = textOn(d.color);
  }
  if (spark && v.sparkline) {
    box.append(sparkline(v.sparkline, background ? "rgba(255,255,255,0.6)" : d.color, ctx));
  }
  return box;
}

/** The area sparkline: an SVG path scaled to the box (no chart library, it is a few dozen points). */
export function sparkline(frame: Frame, color: string, ctx: PanelContext): SVGSVGElement {
  const W = 100;
  const H = 40;
  const ts = frame.timestamps;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of frame.values) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const t0 = Math.min(ts[0], ctx.from);
  const t1 = Math.max(ts[ts.length - 1], ctx.to);
  const x = (t: number): number => (t1 > t0 ? ((t - t0) / (t1 - t0)) * W : 0);
  const y = (v: number): number => (hi > lo ? H - ((v - lo) / (hi - lo)) * (H - 2) - 1 : H / 2);
  let line = "";
  let area = "";
  let run: [number, number][] = [];
  const flush = (): void => {
    if (!run.length) return;
    const pts = run.map(([a, b]) => `${a.toFixed(2)},${b.toFixed(2)}`);
    line += `M${pts.join("L")}`;
    area += `M${run[0][0].toFixed(2)},${H}L${pts.join("L")}L${run[run.length - 1][0].toFixed(2)},${H}Z`;
    run = [];
  };
  for (let i = 0; i < ts.length; i++) {
    const v = frame.values[i];
    if (v === null || !Number.isFinite(v)) flush();
    else run.push([x(ts[i]), y(v)]);
  }
  flush();
  const root = svg("svg", { class: "vp-spark", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", "aria-hidden": "true" });
  const fill = svg("path", { d: area || "M0,0", "fill-opacity": 0.18, stroke: "none" });
  fill.style.fill = color;
  const stroke = svg("path", { d: line || "M0,0", fill: "none", "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" });
  stroke.style.stroke = color;
  root.append(fill, stroke);
  return root;
}
