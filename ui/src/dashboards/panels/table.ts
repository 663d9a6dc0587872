// Grafana's `table` panel (and the legacy `table-old`): frames become tables the way Grafana's
// Prometheus datasource shapes them (format "table": a row per sample with label columns and
// Value; time series: Time + one value column per series), then the panel's common
// transformations (merge, reduce, organize, filterFieldsByName, joinByField, sortBy) apply.
// Cells are formatted and coloured by the column's resolved field config; headers sort.
import { h } from "../../dom";
import { dateTime } from "../../timezone";
import {
  type DisplayValue,
  type FieldDisplay,
  reduce,
  reducerName,
  resolveField,
  toRegExp,
} from "../fieldconfig";
import type { FieldConfig, Frame, GrafanaPanel, PanelContext, PanelRenderer } from "../types";
import { noData, obj, textOn } from "./reduced";
import "./panels.css";

type Cell = string | number | null;

export interface Column {
  name: string;
  type: "time" | "string" | "number";
  values: Cell[];
  refId: string;
  labels: Record<string, string>;
}

export interface Table {
  name: string;
  columns: Column[];
}

type Json = Record<string, unknown>;

function rowCount(t: Table): number {
  return t.columns.reduce((n, c) => Math.max(n, c.values.length), 0);
}

function labelKeys(frames: Frame[]): string[] {
  const keys = new Set<string>();
  for (const f of frames) for (const k of Object.keys(f.labels)) keys.add(k);
  return [...keys].sort((a, b) => (a === "__name__" ? -1 : b === "__name__" ? 1 : a.localeCompare(b)));
}

/** The datasource's tables: one per query in "table" format, one per series otherwise. */
export function framesToTables(panel: GrafanaPanel, frames: Frame[]): Table[] {
  const groups = new Map<string, Frame[]>();
  for (const f of frames) {
    const g = groups.get(f.refId);
    if (g) g.push(f);
    else groups.set(f.refId, [f]);
  }
  const tables: Table[] = [];
  const several = groups.size > 1;
  for (const [refId, group] of groups) {
    const target = (panel.targets ?? []).find((t, i) => (t.refId ?? String.fromCharCode(65 + i)) === refId);
    const instant = group.every((f) => f.timestamps.length <= 1);
    if (target?.format === "table" || instant) {
      const keys = labelKeys(group);
      const time: Cell[] = [];
      const labels: Cell[][] = keys.map(() => []);
      const value: Cell[] = [];
      for (const f of group) {
        for (let i = 0; i < f.timestamps.length; i++) {
          const v = f.values[i];
          if (v === null) continue;
          time.push(f.timestamps[i] * 1000);
          keys.forEach((k, j) => labels[j].push(f.labels[k] ?? ""));
          value.push(v);
        }
      }
      tables.push({
        name: refId,
        columns: [
          { name: "Time", type: "time", values: time, refId, labels: {} },
          ...keys.map((k, j): Column => ({ name: k, type: "string", values: labels[j], refId, labels: {} })),
          { name: several ? `Value #${refId}` : "Value", type: "number", values: value, refId, labels: {} },
        ],
      });
    } else {
      for (const f of group) {
        const rows = [...f.timestamps.keys()].filter((i) => f.values[i] !== null);
        tables.push({
          name: f.name,
          columns: [
            { name: "Time", type: "time", values: rows.map((i) => f.timestamps[i] * 1000), refId, labels: {} },
            { name: f.name, type: "number", values: rows.map((i) => f.values[i]), refId, labels: f.labels },
          ],
        });
      }
    }
  }
  return tables;
}

// ---- Transformations --------------------------------------------------------------------------

/**
 * Grafana's merge: rows of all tables joined where the key cells (every non-number column) the
 * table has are equal; a key a table lacks matches anything, and is filled in by the row that has it.
 */
function merge(tables: Table[]): Table[] {
  if (tables.length < 2) return tables;
  const keyNames: string[] = [];
  const keyTypes = new Map<string, Column["type"]>();
  const valueCols: Column[] = [];
  for (const t of tables) {
    for (const c of t.columns) {
      if (c.type === "number") {
        if (!valueCols.some((v) => v.name === c.name)) valueCols.push({ ...c, values: [] });
      } else if (!keyNames.includes(c.name)) {
        keyNames.push(c.name);
        keyTypes.set(c.name, c.type);
      }
    }
  }
  const rows: { keys: Cell[]; values: Map<string, Cell> }[] = [];
  for (const t of tables) {
    const n = rowCount(t);
    const keyCols = keyNames.map((k) => t.columns.find((c) => c.name === k) ?? null);
    const numbers = t.columns.filter((c) => c.type === "number");
    for (let r = 0; r < n; r++) {
      const keys = keyCols.map((c) => (c ? c.values[r] ?? null : null));
      let row = rows.find(
        (row) => numbers.every((c) => !row.values.has(c.name)) && keys.every((k, j) => k === null || row.keys[j] === null || row.keys[j] === k),
      );
      if (!row) rows.push((row = { keys: keys.slice(), values: new Map() }));
      keys.forEach((k, j) => {
        if (k !== null) row!.keys[j] = k;
      });
      for (const c of numbers) row.values.set(c.name, c.values[r] ?? null);
    }
  }
  return [
    {
      name: "merged",
      columns: [
        ...keyNames.map((k, j): Column => ({ name: k, type: keyTypes.get(k) ?? "string", values: rows.map((r) => r.keys[j]), refId: "", labels: {} })),
        ...valueCols.map((v): Column => ({ ...v, values: rows.map((r) => r.values.get(v.name) ?? null) })),
      ],
    },
  ];
}

/** Grafana's reduce: series to rows (Field + one column per reducer), or each field to one value. */
function reduceTransform(tables: Table[], options: Json): Table[] {
  const reducers = Array.isArray(options.reducers) && options.reducers.length ? options.reducers.map(String) : ["max"];
  if (options.mode === "reduceFields") {
    return tables.map((t) => ({
      name: t.name,
      columns: t.columns
        .filter((c) => c.type === "number" || options.includeTimeField === true)
        .map((c) => ({ ...c, values: [c.type === "number" ? reduce(c.values as (number | null)[], reducers[0]) : c.values[c.values.length - 1] ?? null] })),
    }));
  }
  const numbers = tables.flatMap((t) => t.columns.filter((c) => c.type === "number"));
  const keys = options.labelsToFields === true ? [...new Set(numbers.flatMap((c) => Object.keys(c.labels)))].sort() : [];
  return [
    {
      name: "reduced",
      columns: [
        { name: "Field", type: "string", values: numbers.map((c) => c.name), refId: "", labels: {} },
        ...keys.map((k): Column => ({ name: k, type: "string", values: numbers.map((c) => c.labels[k] ?? ""), refId: "", labels: {} })),
        ...reducers.map((r): Column => ({
          name: reducerName(r),
          type: "number",
          values: numbers.map((c) => reduce(c.values as (number | null)[], r)),
          refId: "",
          labels: {},
        })),
      ],
    },
  ];
}

function organize(tables: Table[], options: Json): Table[] {
  const exclude = obj(options.excludeByName);
  const index = obj(options.indexByName);
  const rename = obj(options.renameByName);
  return tables.map((t) => {
    const kept = t.columns.filter((c) => exclude[c.name] !== true);
    const order = (c: Column): number => (typeof index[c.name] === "number" ? (index[c.name] as number) : Number.MAX_SAFE_INTEGER);
    const sorted = kept.map((c, i) => ({ c, i })).sort((a, b) => order(a.c) - order(b.c) || a.i - b.i).map(({ c }) => c);
    return {
      name: t.name,
      columns: sorted.map((c) => (typeof rename[c.name] === "string" && rename[c.name] ? { ...c, name: rename[c.name] as string } : c)),
    };
  });
}

function filterByName(tables: Table[], options: Json): Table[] {
  const include = obj(options.include);
  const exclude = obj(options.exclude);
  const names = (o: Json): string[] => (Array.isArray(o.names) ? o.names.map(String) : []);
  const pattern = (o: Json): RegExp | null => (typeof o.pattern === "string" ? toRegExp(o.pattern) : null);
  const inNames = names(include);
  const inPattern = pattern(include);
  const exNames = names(exclude);
  const exPattern = pattern(exclude);
  return tables.map((t) => ({
    name: t.name,
    columns: t.columns.filter((c) => {
      if (inNames.length || inPattern) {
        if (!inNames.includes(c.name) && !inPattern?.test(c.name)) return false;
      }
      return !exNames.includes(c.name) && !exPattern?.test(c.name);
    }),
  }));
}

/** Joins the tables on one field (Time by default): Grafana's joinByField / seriesToColumns. */
function joinByField(tables: Table[], options: Json): Table[] {
  if (tables.length < 2) return tables;
  const by = typeof options.byField === "string" && options.byField ? options.byField : "Time";
  const keyType = tables[0].columns.find((c) => c.name === by)?.type ?? "time";
  const rows = new Map<string, Map<string, Cell>>();
  const keys: Cell[] = [];
  const others: Column[] = [];
  for (const t of tables) {
    const key = t.columns.find((c) => c.name === by);
    if (!key) continue;
    for (const c of t.columns) if (c !== key && !others.some((o) => o.name === c.name)) others.push({ ...c, values: [] });
    key.values.forEach((k, r) => {
      const id = String(k);
      let row = rows.get(id);
      if (!row) {
        rows.set(id, (row = new Map()));
        keys.push(k);
      }
      for (const c of t.columns) if (c !== key) row.set(c.name, c.values[r] ?? null);
    });
  }
  const order = keys.map((k, i) => ({ k, i })).sort((a, b) => (typeof a.k === "number" && typeof b.k === "number" ? a.k - b.k : a.i - b.i));
  return [
    {
      name: "joined",
      columns: [
        { name: by, type: keyType, values: order.map((o) => o.k), refId: "", labels: {} },
        ...others.map((c): Column => ({ ...c, values: order.map((o) => rows.get(String(o.k))?.get(c.name) ?? null) })),
      ],
    },
  ];
}

function sortByTransform(tables: Table[], options: Json): Table[] {
  const first = obj(Array.isArray(options.sort) ? options.sort[0] : undefined);
  if (typeof first.field !== "string") return tables;
  return tables.map((t) => sortTable(t, first.field as string, first.desc === true));
}

/** Applies the panel's transformations in order; ones vigil does not know are skipped (and named). */
export function transform(tables: Table[], transformations: unknown): { tables: Table[]; skipped: string[] } {
  const skipped: string[] = [];
  let out = tables;
  for (const t of Array.isArray(transformations) ? transformations : []) {
    const tr = obj(t);
    if (tr.disabled === true) continue;
    const options = obj(tr.options);
    switch (tr.id) {
      case "merge":
        out = merge(out);
        break;
      case "reduce":
        out = reduceTransform(out, options);
        break;
      case "organize":
        out = organize(out, options);
        break;
      case "filterFieldsByName":
        out = filterByName(out, options);
        break;
      case "seriesToColumns":
      case "joinByField":
        out = joinByField(out, options);
        break;
      case "sortBy":
        out = sortByTransform(out, options);
        break;
      default:
        if (typeof tr.id === "string") skipped.push(tr.id);
    }
  }
  return { tables: out, skipped };
}

/** Rows reordered by one column; nulls last either way. */
export function sortTable(t: Table, column: string, desc: boolean): Table {
  const col = t.columns.find((c) => c.name === column);
  if (!col) return t;
  const n = rowCount(t);
  const order = [...Array(n).keys()].sort((a, b) => {
    const x = col.values[a] ?? null;
    const y = col.values[b] ?? null;
    if (x === null || y === null) return x === y ? a - b : x === null ? 1 : -1;
    const cmp = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return (desc ? -cmp : cmp) || a - b;
  });
  return { name: t.name, columns: t.columns.map((c) => ({ ...c, values: order.map((i) => c.values[i] ?? null) })) };
}

// ---- Legacy table-old -------------------------------------------------------------------------

/** table-old's `styles` entry for a column as a field config (unit, decimals, thresholds, colour mode). */
function legacyStyle(panel: GrafanaPanel, column: string): { config: FieldConfig; hidden: boolean } | null {
  const styles = Array.isArray(panel.styles) ? panel.styles.map(obj) : [];
  const style = styles.find((s) => {
    const pattern = typeof s.pattern === "string" ? s.pattern : "";
    if (pattern.startsWith("/")) return toRegExp(pattern)?.test(column) ?? false;
    return pattern === column;
  });
  if (!style) return null;
  const config: FieldConfig = { custom: {} };
  // The old table's number styles defaulted to "short".
  config.unit = typeof style.unit === "string" && style.unit ? style.unit : "short";
  if (typeof style.decimals === "number") config.decimals = style.decimals;
  if (typeof style.alias === "string" && style.alias) config.displayName = style.alias;
  const colors = Array.isArray(style.colors) ? style.colors.map(String) : [];
  const levels = Array.isArray(style.thresholds) ? style.thresholds.map((x) => Number(x)) : [];
  if (colors.length && levels.length && levels.every(Number.isFinite)) {
    config.thresholds = { mode: "absolute", steps: [{ value: null, color: colors[0] }, ...levels.map((l, i) => ({ value: l, color: colors[Math.min(i + 1, colors.length - 1)] }))] };
    if (style.colorMode === "cell" || style.colorMode === "row") config.custom = { cellOptions: { type: "color-background" } };
    else if (style.colorMode === "value") config.custom = { cellOptions: { type: "color-text" } };
  }
  return { config, hidden: style.type === "hidden" };
}

// ---- Rendering --------------------------------------------------------------------------------

interface ColumnView {
  column: Column;
  field: FieldDisplay;
  title: string;
  cellType: string;
  align: string;
  width: number | null;
  range: { min: number; max: number } | undefined;
}

function columnView(panel: GrafanaPanel, column: Column, index: number, ctx: PanelContext): ColumnView | null {
  const numbers = column.type === "number" ? (column.values as (number | null)[]) : [];
  const frame: Frame = { refId: column.refId, labels: column.labels, name: column.name, timestamps: new Float64Array(0), values: numbers };
  let field: FieldDisplay;
  if (panel.type === "table-old") {
    const style = legacyStyle(panel, column.name);
    if (style?.hidden) return null;
    field = resolveField({ ...panel, type: "table", fieldConfig: { defaults: style?.config ?? {} } }, frame, { index, interpolate: ctx.interpolate });
  } else field = resolveField(panel, frame, { index, interpolate: ctx.interpolate });
  const custom = field.custom;
  if (field.hidden || custom.hidden === true || custom.hideFrom && obj(custom.hideFrom).viz === true) return null;
  const cellOptions = obj(custom.cellOptions);
  let cellType = typeof cellOptions.type === "string" ? cellOptions.type : typeof custom.displayMode === "string" ? custom.displayMode : "auto";
  if (cellType === "gauge") cellType = `${typeof cellOptions.mode === "string" ? cellOptions.mode : "gradient"}-gauge`;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of numbers) if (v !== null && Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return {
    column,
    field,
    title: field.name,
    cellType,
    align: typeof custom.align === "string" && custom.align !== "auto" ? custom.align : column.type === "number" ? "right" : "left",
    width: typeof custom.width === "number" && custom.width > 0 ? custom.width : null,
    range: lo <= hi ? { min: Math.min(0, lo), max: hi === lo && hi === 0 ? 1 : hi } : undefined,
  };
}

function cell(view: ColumnView, value: Cell): HTMLTableCellElement {
  const td = h("td", { class: `vp-cell vp-align-${view.align}` });
  if (view.column.type === "time") {
    td.append(typeof value === "number" ? dateTime(value) : "");
    return td;
  }
  if (view.column.type === "string" || typeof value === "string") {
    td.append(value === null ? "" : String(value));
    return td;
  }
  const d: DisplayValue = view.field.display(value, view.range);
  const text = `${d.prefix}${d.text}${d.suffix}`;
  switch (view.cellType) {
    case "color-background":
    case "color-background-solid":
      td.style.backgroundColor = d.color;
      td.style.color = textOn(d.color);
      td.append(text);
      break;
    case "color-text":
      td.style.color = d.color;
      td.append(text);
      break;
    case "gradient-gauge":
    case "lcd-gauge":
    case "basic-gauge": {
      const fill = h("span", { class: "vp-cell-bar-fill" });
      fill.style.width = `${(d.percent * 100).toFixed(1)}%`;
      fill.style.backgroundColor = d.color;
      td.append(h("span", { class: "vp-cell-bar" }, fill), h("span", { class: "vp-cell-bar-text" }, text));
      break;
    }
    default:
      td.append(text);
  }
  return td;
}

interface SortState {
  column: string | null;
  desc: boolean;
}

function renderTable(t: Table, panel: GrafanaPanel, ctx: PanelContext, sort: SortState, rerender: (focus: string) => void): HTMLElement {
  const views = t.columns.map((c, i) => columnView(panel, c, i, ctx)).filter((v): v is ColumnView => v !== null);
  // options.sortBy names the column by its display name; header clicks by its column name.
  const sortView = views.find((v) => v.column.name === sort.column) ?? views.find((v) => v.title === sort.column);
  if (sortView) sort.column = sortView.column.name;
  const shown = sortView ? sortTable(t, sortView.column.name, sort.desc) : t;
  const byName = new Map(shown.columns.map((c) => [c.name, c]));
  const n = rowCount(shown);
  const o = obj(panel.options);
  const showHeader = o.showHeader !== false;
  const head = showHeader
    ? h(
        "thead",
        null,
        h(
          "tr",
          null,
          views.map((v) => {
            const active = sort.column === v.column.name;
            const th = h(
              "th",
              { class: `vp-align-${v.align}`, "aria-sort": active ? (sort.desc ? "descending" : "ascending") : "none", scope: "col" },
              h(
                "button",
                {
                  type: "button",
                  class: "vp-sort",
                  onclick: () => {
                    if (!active) [sort.column, sort.desc] = [v.column.name, false];
                    else if (!sort.desc) sort.desc = true;
                    else [sort.column, sort.desc] = [null, false];
                    rerender(v.column.name);
                  },
                  "data-column": v.column.name,
                },
                v.title,
                h("span", { class: "vp-sort-mark", "aria-hidden": "true" }, active ? (sort.desc ? " ↓" : " ↑") : ""),
              ),
            );
            if (v.width) th.style.width = `${v.width}px`;
            return th;
          }),
        ),
      )
    : null;
  const rows: HTMLTableRowElement[] = [];
  const limit = Math.min(n, 2000);
  for (let r = 0; r < limit; r++) {
    rows.push(h("tr", null, views.map((v) => cell(v, byName.get(v.column.name)?.values[r] ?? null))));
  }
  const table = h("table", { class: "vp-table data" }, head, h("tbody", null, rows));
  const note = n > limit ? h("div", { class: "vp-table-note muted" }, `Showing ${limit} of ${n} rows.`) : null;
  return h("div", { class: "vp-table-scroll" }, table, note);
}

/** table-old's `transform`: the shapes Grafana 6's table offered for time series. */
function legacyTables(panel: GrafanaPanel, frames: Frame[]): Table[] {
  const series = frames.map((f): Column => ({ name: f.name, type: "number", values: f.values, refId: f.refId, labels: f.labels }));
  switch (panel.transform) {
    case "timeseries_aggregations": {
      const columns = Array.isArray(panel.columns) ? panel.columns.map(obj) : [];
      const aggs = columns.length ? columns : [{ text: "Avg", value: "avg" }];
      return [
        {
          name: "aggregations",
          columns: [
            { name: "Metric", type: "string", values: series.map((c) => c.name), refId: "", labels: {} },
            ...aggs.map((a): Column => ({
              name: typeof a.text === "string" ? a.text : String(a.value),
              type: "number",
              values: series.map((c) => reduce(c.values as (number | null)[], String(a.value ?? "avg"))),
              refId: "",
              labels: {},
            })),
          ],
        },
      ];
    }
    case "timeseries_to_columns":
      return joinByField(
        frames.map((f) => ({ name: f.name, columns: [{ name: "Time", type: "time", values: [...f.timestamps].map((t) => t * 1000), refId: f.refId, labels: {} }, { name: f.name, type: "number", values: f.values, refId: f.refId, labels: f.labels }] })),
        {},
      );
    case "table":
      return framesToTables(panel, frames);
    default: {
      // timeseries_to_rows: Time, Metric, Value for every sample.
      const rows = frames.flatMap((f) => [...f.timestamps.keys()].filter((i) => f.values[i] !== null).map((i) => [f.timestamps[i] * 1000, f.name, f.values[i]] as const));
      rows.sort((a, b) => a[0] - b[0]);
      return [
        {
          name: "rows",
          columns: [
            { name: "Time", type: "time", values: rows.map((r) => r[0]), refId: "", labels: {} },
            { name: "Metric", type: "string", values: rows.map((r) => r[1]), refId: "", labels: {} },
            { name: "Value", type: "number", values: rows.map((r) => r[2]), refId: "", labels: {} },
          ],
        },
      ];
    }
  }
}

export const tablePanel: PanelRenderer = (el, ctx) => {
  const panel = ctx.panel;
  if (!ctx.frames.length) {
    el.append(noData(panel));
    return;
  }
  const base = panel.type === "table-old" ? legacyTables(panel, ctx.frames) : framesToTables(panel, ctx.frames);
  const { tables, skipped } = transform(base, panel.transformations);
  const nonEmpty = tables.filter((t) => t.columns.length && rowCount(t) > 0);
  if (!nonEmpty.length) {
    el.append(noData(panel));
    return;
  }
  const sortBy = obj(Array.isArray(obj(panel.options).sortBy) ? (obj(panel.options).sortBy as unknown[])[0] : undefined);
  const sort: SortState = { column: typeof sortBy.displayName === "string" ? sortBy.displayName : null, desc: sortBy.desc === true };
  let selected = 0;
  const body = h("div", { class: "vp-table-body" });
  const draw = (focus?: string): void => {
    body.replaceChildren(renderTable(nonEmpty[selected], panel, ctx, sort, draw));
    // The header was rebuilt: keyboard focus stays on the column's sort button.
    if (focus !== undefined) Array.from(body.querySelectorAll<HTMLButtonElement>("button.vp-sort")).find((b) => b.dataset.column === focus)?.focus();
  };
  const parts: HTMLElement[] = [];
  if (skipped.length) parts.push(h("div", { class: "vp-table-note muted" }, `Transformations not supported by vigil: ${skipped.join(", ")}`));
  parts.push(body);
  if (nonEmpty.length > 1) {
    const select = h(
      "select",
      { class: "vp-frame-select", "aria-label": "Series", onchange: (e: Event) => {
          selected = (e.target as HTMLSelectElement).selectedIndex;
          draw();
        },
      },
      nonEmpty.map((t, i) => h("option", { value: String(i) }, t.name)),
    );
    parts.push(h("div", { class: "vp-table-footer" }, select));
  }
  draw();
  el.append(h("div", { class: "vp-table-wrap" }, parts));
};

