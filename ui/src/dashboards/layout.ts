// The dashboard's grid as Grafana lays it out: sections (panels above the first row, then one
// per row), row and panel repeats, vertical compaction; and a key of what the grid would show,
// so a dashboard whose variables load without changing it keeps its panels (and their queries).
import { type Scope, interpolate, single } from "./interpolate";
import type { GrafanaPanel } from "./types";
import { type Variable, selectedValues } from "./variables";

export const COLUMNS = 24;

export interface Placed {
  panel: GrafanaPanel;
  /** Values repeats bind in this copy. */
  scope: Scope;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Section {
  row: GrafanaPanel | null;
  scope: Scope;
  key: string;
  panels: Placed[];
}

function pos(p: GrafanaPanel): { x: number; y: number; w: number; h: number } {
  const g = p.gridPos ?? { x: 0, y: 0, w: 12, h: 8 };
  const w = Math.max(1, Math.min(COLUMNS, Math.round(g.w || 12)));
  return { x: Math.max(0, Math.min(COLUMNS - w, Math.round(g.x || 0))), y: Math.max(0, g.y || 0), w, h: Math.max(1, Math.round(g.h || 8)) };
}

/** Splits the panel list into sections: panels above the first row, then one per row. */
function sections(panels: GrafanaPanel[]): { row: GrafanaPanel | null; panels: GrafanaPanel[] }[] {
  const sorted = [...panels].sort((a, b) => pos(a).y - pos(b).y || pos(a).x - pos(b).x);
  const out: { row: GrafanaPanel | null; panels: GrafanaPanel[] }[] = [{ row: null, panels: [] }];
  for (const p of sorted) {
    if (p.type === "row") out.push({ row: p, panels: p.collapsed ? [...(p.panels ?? [])] : [] });
    else out[out.length - 1].panels.push(p);
  }
  return out.filter((s, i) => i > 0 || s.panels.length);
}

/** Grafana's panel repeat: one copy per selected value, across (h, wrapping at maxPerRow) or down (v). */
function repeatPanels(panels: GrafanaPanel[], vars: Variable[], outer: Scope): Placed[] {
  const out: Placed[] = [];
  for (const p of panels) {
    const g = pos(p);
    const v = p.repeat ? vars.find((x) => x.name === p.repeat) : undefined;
    if (!v) {
      out.push({ panel: p, scope: outer, ...g });
      continue;
    }
    const values = selectedValues(v);
    if (!values.length) continue;
    if (p.repeatDirection === "v") {
      values.forEach((o, i) => out.push({ panel: p, scope: { ...outer, [v.name]: single(o.value, o.text) }, x: g.x, y: g.y + i * g.h, w: g.w, h: g.h }));
      continue;
    }
    const perRow = Math.max(1, Math.min(p.maxPerRow || 4, values.length));
    const w = Math.max(1, Math.floor(COLUMNS / perRow));
    values.forEach((o, i) => {
      const col = i % perRow;
      const line = Math.floor(i / perRow);
      out.push({ panel: p, scope: { ...outer, [v.name]: single(o.value, o.text) }, x: col * w, y: g.y + line * g.h, w, h: g.h });
    });
  }
  return compact(out);
}

/** Vertical compaction (as Grafana's grid does): each panel moves up until it meets one above it. */
function compact(items: Placed[]): Placed[] {
  const sorted = [...items].sort((a, b) => a.y - b.y || a.x - b.x);
  const placed: Placed[] = [];
  for (const it of sorted) {
    let y = 0;
    for (const p of placed) if (p.x < it.x + it.w && it.x < p.x + p.w) y = Math.max(y, p.y + p.h);
    placed.push({ ...it, y });
  }
  return placed;
}

/** Sections with row repeats expanded and panel repeats placed. */
export function layout(panels: GrafanaPanel[], vars: Variable[]): Section[] {
  const out: Section[] = [];
  for (const [i, s] of sections(panels).entries()) {
    const v = s.row?.repeat ? vars.find((x) => x.name === s.row?.repeat) : undefined;
    const copies: Scope[] = v ? selectedValues(v).map((o) => ({ [v.name]: single(o.value, o.text) })) : [{}];
    for (const [j, scope] of copies.entries()) {
      const key = `${i}:${s.row?.title ?? ""}:${j}`;
      out.push({ row: s.row, scope, key, panels: repeatPanels(s.panels, vars, scope) });
    }
  }
  return out;
}

/**
 * What the grid shows under `base`: the layout, and each panel and row title as interpolated
 * for queries. Equal keys mean equal panels sending equal queries, e.g. when "All" with a
 * custom allValue is selected and only the variable's option list has loaded since.
 */
export function layoutKey(sections: Section[], base: Scope): string {
  return JSON.stringify(
    sections.map((s) => [
      s.key,
      s.row ? interpolate(s.row.title ?? "", { ...base, ...s.scope }, "text") : null,
      s.panels.map((p) => [p.x, p.y, p.w, p.h, interpolate(JSON.stringify(p.panel), { ...base, ...p.scope }, "query")]),
    ]),
  );
}
