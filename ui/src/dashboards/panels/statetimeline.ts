// Grafana's `state-timeline` panel: one row per series, each run of equal values a bar in the
// colour and text its field config gives the value (value mappings, thresholds, units), a
// legend of the states shown, and the state under the cursor with when it began and ended.
import { h } from "../../dom";
import { dateTime } from "../../timezone";
import { type DisplayValue, dataRange, displayText, resolveField } from "../fieldconfig";
import type { PanelRenderer } from "../types";
import { cellChart, paintable } from "./cells";
import { noData, obj } from "./reduced";
import "./panels.css";

/** A run of equal states: from `start` to `end` (Unix seconds). */
export interface Span {
  start: number;
  end: number;
  state: DisplayValue;
}

/**
 * The runs of `values` at `timestamps` whose displayed text and colour stay the same (Grafana's
 * mergeValues); a null ends a run. The last run lasts one step past its last sample.
 */
export function spans(timestamps: ArrayLike<number>, values: ArrayLike<number | null>, display: (v: number) => DisplayValue): Span[] {
  const out: Span[] = [];
  const n = timestamps.length;
  const step = n > 1 ? timestamps[1] - timestamps[0] : 0;
  let open: Span | null = null;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const t = timestamps[i];
    if (open) open.end = t;
    if (v === null || v === undefined || Number.isNaN(v)) {
      open = null;
      continue;
    }
    const state = display(v);
    if (open && open.state.text === state.text && open.state.color === state.color) continue;
    open = { start: t, end: t + step, state };
    out.push(open);
  }
  if (open && n) open.end = timestamps[n - 1] + step;
  return out;
}

export const stateTimelinePanel: PanelRenderer = (el, ctx) => {
  const range = dataRange(ctx.frames);
  const rows = ctx.frames
    .map((frame, index) => ({ frame, field: resolveField(ctx.panel, frame, { index, interpolate: ctx.interpolate }) }))
    .filter((r) => !r.field.hidden)
    .map((r) => ({ name: r.field.name, spans: spans(r.frame.timestamps, r.frame.values, (v) => r.field.display(v, range)) }));
  if (!rows.length) {
    el.append(noData(ctx.panel));
    return;
  }
  const o = obj(ctx.panel.options);
  const rowFill = typeof o.rowHeight === "number" ? Math.min(1, Math.max(0.1, o.rowHeight)) : 0.9;
  const showValue = o.showValue === "always" || o.showValue === "never" ? o.showValue : "auto";
  const opacity = typeof o.fillOpacity === "number" ? Math.min(100, Math.max(0, o.fillOpacity)) / 100 : 0.7;
  const legend = obj(o.legend).showLegend !== false;
  const states = new Map<string, string>();
  for (const r of rows) for (const s of r.spans) if (!states.has(displayText(s.state))) states.set(displayText(s.state), s.state.color);
  const legendBox = legend
    ? h("div", { class: "vp-states", role: "list" },
      [...states].map(([text, color]) => h("span", { class: "vp-state", role: "listitem" }, h("span", { class: "vp-state-swatch", style: `background:${color}` }), text)))
    : null;
  const plotBox = h("div", { class: "vp-timeline-plot" });
  el.append(plotBox);
  if (legendBox) el.append(legendBox);
  return cellChart(plotBox, {
    rows: rows.map((r) => r.name),
    from: ctx.from,
    to: ctx.to,
    width: ctx.width,
    height: Math.max(60, ctx.height - (legendBox ? 24 : 0)),
    onZoom: ctx.onZoom,
    sync: ctx.sync,
    paint: ({ ctx: c, x, top, rowHeight, ratio }) => {
      const barHeight = rowHeight * rowFill;
      c.font = `${Math.round(12 * ratio)}px sans-serif`;
      c.textBaseline = "middle";
      c.textAlign = "left";
      rows.forEach((row, r) => {
        const y = top(r) + (rowHeight - barHeight) / 2;
        for (const s of row.spans) {
          const x0 = x(s.start);
          const w = Math.max(ratio, x(s.end) - x0);
          c.globalAlpha = opacity;
          c.fillStyle = paintable(s.state.color);
          c.fillRect(x0, y, w, barHeight);
          c.globalAlpha = 1;
          const text = displayText(s.state);
          if (showValue === "never" || (showValue === "auto" && c.measureText(text).width + 8 * ratio > w)) continue;
          c.fillStyle = "#fff";
          c.fillText(text, x0 + 4 * ratio, y + barHeight / 2, w - 8 * ratio);
        }
      });
    },
    hover: (t, r) => {
      const row = rows[r];
      const s = row?.spans.find((x) => x.start <= t && t < x.end);
      if (!s) return null;
      return {
        title: `${dateTime(s.start * 1000)} – ${dateTime(s.end * 1000)}`,
        lines: [{ color: s.state.color, name: row.name, value: displayText(s.state) }],
      };
    },
  });
};
