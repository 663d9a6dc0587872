// Hover tooltips for uPlot charts, as Grafana's timeseries panel shows them: the time under the
// cursor and, per series, its swatch, name and value. A uPlot plugin driven by the setCursor hook;
// the element is made on the first hover, reused on every move (rows are a pool whose text is
// updated in place) and removed with the chart. Names are text nodes, never markup.
import type uPlot from "uplot";
import { h } from "./dom";
import { dateTime } from "./timezone";
import "./tooltip.css";

/** Grafana's options.tooltip.mode: the nearest series, every series, or no tooltip. */
export type TooltipMode = "single" | "multi" | "none";
/** Grafana's options.tooltip.sort: rows in series order, or by value. */
export type TooltipSort = "none" | "asc" | "desc";

export interface TooltipOptions {
  mode: TooltipMode;
  sort?: TooltipSort;
  /** Grafana's options.tooltip.hideZeros: series whose value is 0 are left out. */
  hideZeros?: boolean;
  /** Rows shown in multi mode before "+N more" (default 20). */
  maxRows?: number;
  /** Shown also when the cursor is another chart's, shared through uPlot's cursor sync (Grafana's graphTooltip 2). */
  shared?: boolean;
}

/** What the tooltip reads per series (index 0 = the first data series, uPlot's series 1). */
export interface TooltipSeries {
  label: string;
  color: string;
  /** The values as the query returned them (not stacked, not negated). */
  values: ArrayLike<number | null>;
  /** Grafana's hideFrom.tooltip / a legacy override's hideTooltip. */
  hidden?: boolean;
}

interface Row {
  el: HTMLDivElement;
  swatch: HTMLSpanElement;
  name: Text;
  value: Text;
  /** The series the row shows now (-1 = none yet), so the name is only rewritten on change. */
  series: number;
}

const MARGIN = 12;

/**
 * The rows to show at data index `idx`: indices into `series`, hidden and null values left out.
 * Zeros are left out too with `hideZeros`. "single" keeps the one whose drawn point (`drawnY`, in CSS pixels) is nearest `cursorY`.
 */
export function pickRows(
  options: TooltipOptions,
  series: TooltipSeries[],
  shown: (i: number) => boolean,
  idx: number,
  cursorY: number,
  drawnY: (i: number) => number | null,
): number[] {
  const out: number[] = [];
  let best = -1;
  let bestDistance = Infinity;
  for (let i = 0; i < series.length; i++) {
    const s = series[i];
    if (s.hidden || !shown(i)) continue;
    const v = s.values[idx];
    if (v === null || v === undefined || Number.isNaN(v) || (v === 0 && options.hideZeros)) continue;
    if (options.mode === "single") {
      const y = drawnY(i);
      const distance = y === null ? Infinity : Math.abs(y - cursorY);
      if (best < 0 || distance < bestDistance) {
        best = i;
        bestDistance = distance;
      }
    } else {
      out.push(i);
    }
  }
  if (options.mode === "single") return best < 0 ? [] : [best];
  if (options.sort === "asc" || options.sort === "desc") {
    const sign = options.sort === "asc" ? 1 : -1;
    out.sort((a, b) => sign * ((series[a].values[idx] as number) - (series[b].values[idx] as number)) || a - b);
  }
  return out;
}

/** A uPlot plugin showing the tooltip; `format` is the axis's value formatter. */
export function tooltipPlugin(
  options: TooltipOptions,
  series: TooltipSeries[],
  format: (v: number) => string,
): uPlot.Plugin {
  const maxRows = options.mode === "single" ? 1 : Math.max(1, options.maxRows ?? 20);
  let box: HTMLDivElement | null = null;
  let time: Text | null = null;
  let list: HTMLDivElement | null = null;
  let more: HTMLDivElement | null = null;
  let moreText: Text | null = null;
  const rows: Row[] = [];
  let plot: uPlot | null = null;
  let visible = false;

  const hide = () => {
    if (box && visible) box.hidden = true;
    visible = false;
  };
  const onScroll = () => hide();

  function build(): HTMLDivElement {
    time = document.createTextNode("");
    moreText = document.createTextNode("");
    list = h("div", { class: "tt-rows" });
    more = h("div", { class: "tt-more" }, moreText);
    box = h("div", { class: "chart-tooltip", "aria-hidden": "true", hidden: true },
      h("div", { class: "tt-time" }, time), list, more);
    document.body.append(box);
    return box;
  }

  function row(i: number): Row {
    while (rows.length <= i) {
      const swatch = h("span", { class: "tt-swatch" });
      const name = document.createTextNode("");
      const value = document.createTextNode("");
      const el = h("div", { class: "tt-row" }, swatch, h("span", { class: "tt-name" }, name), h("span", { class: "tt-value" }, value));
      rows.push({ el, swatch, name, value, series: -1 });
    }
    return rows[i];
  }

  function update(u: uPlot): void {
    const idx = u.cursor.idx;
    const left = u.cursor.left ?? -1;
    const top = u.cursor.top ?? -1;
    if (idx === null || idx === undefined || left < 0 || top < 0 || (!options.shared && !u.cursor.event)) {
      hide();
      return;
    }
    const picked = pickRows(options, series, (i) => u.series[i + 1]?.show !== false, idx, top, (i) => {
      const v = u.data[i + 1]?.[idx];
      return v === null || v === undefined ? null : u.valToPos(v, "y");
    });
    if (!picked.length) {
      hide();
      return;
    }
    const over = u.over.getBoundingClientRect();
    const el = box ?? build();
    (time as Text).data = dateTime(u.data[0][idx] * 1000);
    const n = Math.min(picked.length, maxRows);
    const holder = list as HTMLDivElement;
    for (let k = 0; k < n; k++) {
      const r = row(k);
      const si = picked[k];
      if (r.series !== si) {
        r.series = si;
        r.name.data = series[si].label;
        r.swatch.style.background = series[si].color;
      }
      r.value.data = format(series[si].values[idx] as number);
      if (r.el.parentNode !== holder) holder.append(r.el);
    }
    for (let k = n; k < rows.length && rows[k].el.parentNode; k++) rows[k].el.remove();
    const rest = picked.length - n;
    (more as HTMLDivElement).hidden = rest <= 0;
    if (rest > 0) (moreText as Text).data = `+${rest} more`;
    el.hidden = false;
    visible = true;
    // Beside the cursor; flipped to the left/above near the viewport's right/bottom edge.
    const x = over.left + left;
    const y = over.top + top;
    const w = el.offsetWidth;
    const hgt = el.offsetHeight;
    const vw = document.documentElement.clientWidth;
    const vh = document.documentElement.clientHeight;
    let tx = x + MARGIN;
    if (tx + w > vw) tx = x - MARGIN - w;
    let ty = y + MARGIN;
    if (ty + hgt > vh) ty = y - MARGIN - hgt;
    el.style.transform = `translate(${Math.round(Math.max(0, tx))}px, ${Math.round(Math.max(0, ty))}px)`;
  }

  return {
    hooks: {
      init: (u: uPlot) => {
        plot = u;
        u.over.addEventListener("mouseleave", hide);
        window.addEventListener("scroll", onScroll, { capture: true, passive: true });
      },
      setCursor: (u: uPlot) => {
        if (options.mode !== "none") update(u);
      },
      destroy: () => {
        plot?.over.removeEventListener("mouseleave", hide);
        window.removeEventListener("scroll", onScroll, { capture: true });
        box?.remove();
        box = null;
        plot = null;
      },
    },
  };
}
