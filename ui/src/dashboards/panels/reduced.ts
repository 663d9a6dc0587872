// The values a stat, gauge or bar gauge shows: each series reduced by the panel's calcs (or every
// value, in "All values" mode), with its field config applied. Grafana's getFieldDisplayValues.
import { h } from "../../dom";
import {
  type DisplayValue,
  type FieldDisplay,
  dataRange,
  reduce,
  reducerName,
  resolveField,
  toRegExp,
} from "../fieldconfig";
import type { Frame, GrafanaPanel, PanelContext } from "../types";

export interface ReducedValue {
  /** The title: the series' display name (plus the reducer's name when there are several). */
  name: string;
  field: FieldDisplay;
  display: DisplayValue;
  frame: Frame;
  /** The series for a sparkline, when the value summarises a range. */
  sparkline: Frame | null;
  /** The gauge's range: the field's min/max, else the data's (Grafana's global range). */
  min: number;
  max: number;
}

export interface ReduceOptions {
  calcs: string[];
  values: boolean;
  fields: string;
  limit: number;
}

type Json = Record<string, unknown>;

export function obj(v: unknown): Json {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {};
}

export function str(v: unknown, fallback: string): string {
  return typeof v === "string" && v ? v : fallback;
}

/** The reduce options of a panel, with singlestat's `valueName` for legacy panels. */
export function reduceOptions(panel: GrafanaPanel): ReduceOptions {
  const ro = obj(obj(panel.options).reduceOptions);
  let calcs = Array.isArray(ro.calcs) ? ro.calcs.filter((c): c is string => typeof c === "string") : [];
  if (!calcs.length && typeof panel.valueName === "string") calcs = [panel.valueName];
  if (!calcs.length) calcs = ["lastNotNull"];
  const limit = typeof ro.limit === "number" && ro.limit > 0 ? ro.limit : 5000;
  return { calcs, values: ro.values === true, fields: typeof ro.fields === "string" ? ro.fields : "", limit };
}

function fieldSelected(fields: string, name: string): boolean {
  if (!fields || fields === "/.*/" || fields === "numeric" || fields === "allValues") return true;
  if (fields.startsWith("/")) return toRegExp(fields)?.test(name) ?? false;
  return fields === name;
}

/** Everything the panel draws, in series order; empty when there is no data. */
export function reducedValues(ctx: PanelContext): ReducedValue[] {
  const opts = reduceOptions(ctx.panel);
  const range = dataRange(ctx.frames);
  const out: ReducedValue[] = [];
  ctx.frames.forEach((frame, index) => {
    const field = resolveField(ctx.panel, frame, { index, interpolate: ctx.interpolate });
    const min = field.min ?? range?.min ?? 0;
    const max = field.max ?? range?.max ?? 100;
    if (field.hidden || !fieldSelected(opts.fields, field.name)) return;
    if (opts.values) {
      for (let i = 0; i < frame.values.length && out.length < opts.limit; i++) {
        const v = frame.values[i];
        if (v === null) continue;
        out.push({ name: field.name, field, display: field.display(v, range), frame, sparkline: null, min, max });
      }
      return;
    }
    for (const calc of opts.calcs) {
      const v = reduce(frame.values, calc);
      const name = opts.calcs.length > 1 ? `${field.name} ${reducerName(calc)}` : field.name;
      const sparkline = frame.timestamps.length > 1 ? frame : null;
      out.push({ name, field, display: field.display(v, range), frame, sparkline, min, max });
    }
  });
  return out;
}

/** Grafana's empty panel: the panel's noValue text, else "No data". */
export function noData(panel: GrafanaPanel): HTMLElement {
  const noValue = panel.fieldConfig?.defaults?.noValue;
  return h("div", { class: "vp-nodata" }, typeof noValue === "string" && noValue ? noValue : "No data");
}

/** How many columns and rows `n` tiles get in a `width`×`height` box. */
export function gridShape(n: number, width: number, height: number, orientation: string): { cols: number; rows: number } {
  if (n <= 1) return { cols: 1, rows: 1 };
  let cols: number;
  if (orientation === "horizontal") cols = n;
  else if (orientation === "vertical") cols = 1;
  else cols = Math.round(Math.sqrt((n * Math.max(width, 1)) / Math.max(height, 1)));
  cols = Math.min(n, Math.max(1, cols));
  return { cols, rows: Math.ceil(n / cols) };
}

/** Black or white text, whichever reads on `color` (a #hex; anything else gets white). */
export function textOn(color: string): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return "#ffffff";
  const n = parseInt(m[1], 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  return 0.299 * r + 0.587 * g + 0.114 * b > 160 ? "#000000" : "#ffffff";
}

/** A value as nodes: prefix and suffix in their own spans so CSS can size them apart. */
export function valueNodes(d: DisplayValue): HTMLElement {
  return h(
    "span",
    { class: "vp-value-text" },
    d.prefix ? h("span", { class: "vp-unit" }, d.prefix) : null,
    d.text,
    d.suffix ? h("span", { class: "vp-unit" }, d.suffix) : null,
  );
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element built with createElementNS; attribute values are set as strings, never parsed as markup. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}
