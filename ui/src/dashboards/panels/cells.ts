// A chart of rows over time drawn by uPlot, for the panels Grafana draws as cells (heatmap,
// state timeline): the time axis, zone, drag-to-zoom and shared crosshair of the time series
// charts, rows named on the y axis, and a hover tooltip saying what the cell under the cursor is.
import uPlot from "uplot";
import { TIME_TICKS, zoneDate, zoomHook } from "../../chart";
import { h } from "../../dom";
import "../../tooltip.css";

/** What is under the cursor: a heading (the time) and name/value lines. */
export interface CellHover {
  title: string;
  lines: { color: string; name: string; value: string }[];
}

/** Where rows and times are on the canvas, in canvas pixels. */
export interface CellPlace {
  ctx: CanvasRenderingContext2D;
  x(t: number): number;
  /** The top of row `i` (row 0 at the top). */
  top(i: number): number;
  rowHeight: number;
  /** The canvas pixels per CSS pixel. */
  ratio: number;
}

export interface CellChartOptions {
  /** Row names, top to bottom. */
  rows: string[];
  /** Unix seconds. */
  from: number;
  to: number;
  width: number;
  height: number;
  paint(place: CellPlace): void;
  /** The tooltip at time `t` over row `row`, or null for none. */
  hover(t: number, row: number): CellHover | null;
  onZoom?: (from: number, to: number) => void;
  sync?: { key: string; tooltip: boolean };
}

const MARGIN = 12;

/** A colour canvas can paint: CSS variables (the field config's "unknown colour") become grey. */
export function paintable(color: string): string {
  return color.startsWith("var(") ? "#8e8e8e" : color;
}

export function cellChart(el: HTMLElement, options: CellChartOptions): () => void {
  const n = Math.max(1, options.rows.length);
  const longest = Math.max(1, ...options.rows.map((r) => r.length));
  let tip: HTMLDivElement | null = null;
  const hide = (): void => {
    if (tip) tip.hidden = true;
  };
  const show = (u: uPlot): void => {
    const left = u.cursor.left ?? -1;
    const top = u.cursor.top ?? -1;
    if (left < 0 || top < 0 || !u.cursor.event) return hide();
    const row = Math.floor(u.posToVal(top, "y"));
    const hover = row >= 0 && row < n ? options.hover(u.posToVal(left, "x"), n - 1 - row) : null;
    if (!hover) return hide();
    tip ??= document.body.appendChild(h("div", { class: "chart-tooltip", role: "tooltip", hidden: true }));
    tip.replaceChildren(
      h("div", { class: "tt-time" }, hover.title),
      ...hover.lines.map((l) =>
        h("div", { class: "tt-row" }, h("span", { class: "tt-swatch", style: `background:${l.color}` }), h("span", { class: "tt-name" }, l.name), h("span", { class: "tt-value" }, l.value)),
      ),
    );
    tip.hidden = false;
    const over = u.over.getBoundingClientRect();
    const x = over.left + left + MARGIN;
    const y = over.top + top + MARGIN;
    const flipX = x + tip.offsetWidth > document.documentElement.clientWidth;
    tip.style.transform = `translate(${Math.round(flipX ? x - 2 * MARGIN - tip.offsetWidth : x)}px, ${Math.round(y)}px)`;
  };
  const opts: uPlot.Options = {
    width: options.width,
    height: options.height,
    series: [{}],
    legend: { show: false },
    cursor: {
      points: { show: false },
      y: false,
      drag: { x: true, y: false, setScale: !options.onZoom },
      sync: options.sync
        ? { key: options.sync.key, scales: ["x", null], filters: { pub: (type: string) => type === "mousemove" || type === "mouseleave" } }
        : undefined,
    },
    tzDate: zoneDate(),
    scales: {
      x: { time: true, range: () => [options.from, options.to] },
      y: { auto: false, range: () => [0, n] },
    },
    axes: [
      { stroke: "#8e8e8e", grid: { show: false }, values: TIME_TICKS },
      {
        stroke: "#8e8e8e",
        grid: { show: false },
        ticks: { show: false },
        size: Math.min(160, 16 + Math.ceil(7 * longest)),
        splits: () => options.rows.map((_, i) => n - 1 - i + 0.5),
        values: (_u, splits) => splits.map((s) => options.rows[n - 1 - Math.floor(s)] ?? ""),
      },
    ],
    hooks: {
      draw: [
        (u: uPlot) => {
          const { top, height } = u.bbox;
          const rowHeight = height / n;
          u.ctx.save();
          u.ctx.beginPath();
          u.ctx.rect(u.bbox.left, top, u.bbox.width, height);
          u.ctx.clip();
          options.paint({ ctx: u.ctx, x: (t) => u.valToPos(t, "x", true), top: (i) => top + i * rowHeight, rowHeight, ratio: uPlot.pxRatio });
          u.ctx.restore();
        },
      ],
      setCursor: [show],
      ...(options.onZoom ? { setSelect: [zoomHook(options.onZoom)] } : {}),
    },
  };
  const plot = new uPlot(opts, [[options.from, options.to]], el);
  plot.over.addEventListener("mouseleave", hide);
  return () => {
    tip?.remove();
    plot.destroy();
  };
}
