// Grafana template variables (templating.list): their options from vigil's Prometheus API,
// the selection (kept in the URL as var-<name>), and the bar of selects above the grid.
import { promGet, queryInstant } from "../api";
import { h } from "../dom";
import { type Scope, type ScopeValue, calculateInterval, interpolate, references } from "./interpolate";
import type { TimeRange } from "./time";

export interface VarOption {
  text: string;
  value: string;
}

/** The value Grafana stores for the "All" choice. */
export const ALL = "$__all";
const AUTO = "$__auto";

export interface Variable {
  name: string;
  type: string;
  label: string;
  /** 0 shown with its label, 1 shown without a label, 2 hidden. */
  hide: number;
  multi: boolean;
  includeAll: boolean;
  allValue: string | null;
  query: string;
  regex: string;
  sort: number;
  /** 1: on dashboard load, 2: on time range change (Grafana's `refresh`). */
  refresh: number;
  /** Options as listed, without the All choice. */
  options: VarOption[];
  /** Selected values; [ALL] for All. */
  current: string[];
  auto: { count: number; min: string } | null;
  /** Why the options could not be loaded, shown beside the select. */
  error: string;
}

type Json = Record<string, unknown>;

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : fallback;
}

function currentOf(raw: Json): string[] {
  const c = raw.current as Json | undefined;
  const v = c?.value;
  if (Array.isArray(v)) return v.map((x) => str(x));
  if (typeof v === "string" || typeof v === "number") return [String(v)];
  return [];
}

/** Variables from a dashboard's `templating.list`; ad hoc filters and unknown kinds are skipped. */
export function parseVariables(list: unknown, params: URLSearchParams): Variable[] {
  if (!Array.isArray(list)) return [];
  const out: Variable[] = [];
  for (const item of list) {
    if (!item || typeof item !== "object") continue;
    const raw = item as Json;
    const type = str(raw.type, "query");
    if (!["query", "custom", "constant", "interval", "datasource", "textbox"].includes(type)) continue;
    const name = str(raw.name);
    if (!name) continue;
    const q = raw.query;
    const query = typeof q === "string" && q ? q : q && typeof q === "object" ? str((q as Json).query) : str(raw.definition);
    const fromUrl = params.getAll(`var-${name}`);
    const v: Variable = {
      name,
      type,
      label: str(raw.label) || name,
      hide: typeof raw.hide === "number" ? raw.hide : 0,
      multi: raw.multi === true,
      includeAll: raw.includeAll === true,
      allValue: typeof raw.allValue === "string" && raw.allValue !== "" ? raw.allValue : null,
      query: query || (type === "query" ? str(raw.definition) : ""),
      regex: str(raw.regex),
      sort: typeof raw.sort === "number" ? raw.sort : 0,
      refresh: typeof raw.refresh === "number" ? raw.refresh : 1,
      options: [],
      current: (fromUrl.length ? fromUrl : currentOf(raw)).map((x) => (x === "All" || x === ALL ? ALL : x.startsWith("$__auto") ? AUTO : x)),
      auto: type === "interval" && raw.auto === true
        ? { count: typeof raw.auto_count === "number" ? raw.auto_count : 30, min: str(raw.auto_min, "10s") }
        : null,
      error: "",
    };
    if (type === "constant") {
      v.hide = 2;
      v.current = [v.query];
    }
    if (type === "datasource") v.current = ["vigil"];
    if (type === "textbox" && !fromUrl.length && !v.current.length) v.current = [v.query];
    out.push(v);
  }
  return order(out);
}

/** Variables sorted so each comes after the variables its query or regex references. */
function order(vars: Variable[]): Variable[] {
  const byName = new Map(vars.map((v) => [v.name, v]));
  const out: Variable[] = [];
  const state = new Map<string, number>();
  const visit = (v: Variable): void => {
    if (state.get(v.name)) return;
    state.set(v.name, 1);
    for (const ref of references(`${v.query} ${v.regex}`)) {
      const dep = byName.get(ref);
      if (dep && dep !== v) visit(dep);
    }
    out.push(v);
  };
  for (const v of vars) visit(v);
  return out;
}

/** Names of the variables that reference `name`, directly or through others. */
export function dependents(vars: Variable[], name: string): Set<string> {
  const out = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const v of vars) {
      if (out.has(v.name) || v.name === name) continue;
      const refs = references(`${v.query} ${v.regex}`);
      if (refs.includes(name) || refs.some((r) => out.has(r))) {
        out.add(v.name);
        grew = true;
      }
    }
  }
  return out;
}

/** The values each variable stands for now, for interpolation. */
export function variableScope(vars: Variable[], range: TimeRange): Scope {
  const scope: Scope = {};
  for (const v of vars) scope[v.name] = valueOf(v, range);
  return scope;
}

function valueOf(v: Variable, range: TimeRange): ScopeValue {
  const multi = v.multi || v.includeAll;
  if (v.current.includes(ALL) && v.includeAll) {
    const values = v.options.map((o) => o.value);
    return { values, texts: ["All"], multi: true, allValue: v.allValue };
  }
  const values = v.current.map((x) => {
    if (x === AUTO && v.auto) return calculateInterval(range.to - range.from, v.auto.count, v.auto.min).text;
    return x;
  });
  const texts = values.map((x) => v.options.find((o) => o.value === x)?.text ?? x);
  return { values, texts, multi };
}

/** The values of a variable as selected: every option for All (used by repeats). */
export function selectedValues(v: Variable): VarOption[] {
  if (v.current.includes(ALL)) return v.options;
  return v.current.map((x) => v.options.find((o) => o.value === x) ?? { text: x, value: x });
}

/**
 * Loads the options of `vars` (all, or those named in `only`) and checks each selection
 * against them: values that are gone fall back to the first option. Every load starts at
 * once with the values selected now; in dependency order, a variable whose query reads
 * another that validation changed is loaded again with the new value.
 */
export async function refreshVariables(vars: Variable[], range: TimeRange, only: Set<string> | null, onTimeChange = false): Promise<void> {
  const wanted = vars.filter((v) => {
    if (only && !only.has(v.name)) return false;
    return !onTimeChange || (v.type === "query" && v.refresh === 2) || (v.type === "interval" && v.auto !== null);
  });
  const started = new Map(wanted.map((v) => [v, startLoad(v, variableScope(vars, range), range)]));
  for (const v of wanted) {
    let load = started.get(v) as Load;
    const scope = variableScope(vars, range);
    if (load.key !== loadKey(v, scope)) load = startLoad(v, scope, range);
    v.error = "";
    try {
      v.options = await load.options;
    } catch (err) {
      v.options = [];
      v.error = err instanceof Error ? err.message : String(err);
    }
    validate(v);
  }
}

interface Load {
  /** What the options were asked for with: the query and regex as interpolated. */
  key: string;
  options: Promise<VarOption[]>;
}

function loadKey(v: Variable, scope: Scope): string {
  return `${interpolate(v.query, scope, "query")}\u0000${interpolate(v.regex, scope, "query")}`;
}

function startLoad(v: Variable, scope: Scope, range: TimeRange): Load {
  const options = loadOptions(v, scope, range);
  // Awaited in order later, or dropped: either way not an unhandled rejection meanwhile.
  options.catch(() => undefined);
  return { key: loadKey(v, scope), options };
}

function validate(v: Variable): void {
  if (v.type === "textbox" || v.type === "constant") {
    if (!v.current.length) v.current = [v.options[0]?.value ?? ""];
    return;
  }
  if (v.current.includes(ALL) && v.includeAll) {
    v.current = [ALL];
    return;
  }
  const known = new Set(v.options.map((o) => o.value));
  let kept = v.current.filter((x) => known.has(x));
  if (!v.multi) kept = kept.slice(0, 1);
  if (kept.length) v.current = kept;
  else if (v.includeAll && (v.current.length === 0 || v.options.length === 0)) v.current = [ALL];
  else v.current = v.options.length ? [v.options[0].value] : v.includeAll ? [ALL] : [];
}

async function loadOptions(v: Variable, scope: Scope, range: TimeRange): Promise<VarOption[]> {
  switch (v.type) {
    case "constant":
    case "textbox":
      return [{ text: v.query, value: v.query }];
    case "datasource":
      return [{ text: "vigil", value: "vigil" }];
    case "custom":
      return sortOptions(customOptions(interpolate(v.query, scope, "query")), 0);
    case "interval": {
      const opts = customOptions(v.query);
      if (v.auto) opts.unshift({ text: "auto", value: AUTO });
      return opts;
    }
    default: {
      const texts = await metricFind(interpolate(v.query, scope, "query"), range);
      return sortOptions(applyRegex(texts, interpolate(v.regex, scope, "query")), v.sort);
    }
  }
}

/** Grafana's custom variable: comma-separated, `\,` escapes a comma, `text : value` pairs. */
export function customOptions(query: string): VarOption[] {
  const out: VarOption[] = [];
  for (const part of query.match(/(?:\\,|[^,])+/g) ?? []) {
    const item = part.trim().replace(/\\,/g, ",");
    if (!item) continue;
    const m = /^(.+?)\s:\s(.+)$/.exec(item);
    out.push(m ? { text: m[1].trim(), value: m[2].trim() } : { text: item, value: item });
  }
  return out;
}

/** Grafana's Prometheus metricFindQuery: label_names(), label_values(), metrics(), query_result(), else series. */
async function metricFind(query: string, range: TimeRange): Promise<string[]> {
  const q = query.trim();
  const span = { start: String(Math.floor(range.from / 1000)), end: String(Math.ceil(range.to / 1000)) };
  if (!q) return [];
  if (/^label_names\(\s*\)$/.test(q)) return promGet<string[]>("/api/v1/labels", span);
  let m = /^label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_.]*)\s*\)$/s.exec(q);
  if (m) {
    const params: Record<string, string | string[]> = { ...span };
    if (m[1]) params["match[]"] = m[1];
    return promGet<string[]>(`/api/v1/label/${encodeURIComponent(m[2])}/values`, params);
  }
  m = /^metrics\((.+)\)$/s.exec(q);
  if (m) {
    const names = await promGet<string[]>("/api/v1/label/__name__/values", span);
    const re = new RegExp(m[1].trim());
    return names.filter((n) => re.test(n));
  }
  m = /^query_result\((.+)\)$/s.exec(q);
  if (m) {
    const data = await queryInstant(m[1], range.to / 1000);
    if (data.resultType === "scalar" || data.resultType === "string") return [`${data.result[1]}`];
    if (data.resultType !== "vector") return [];
    return data.result.flatMap((s) => {
      if (!s.value) return [];
      const { __name__: name = "", ...labels } = s.metric;
      const inner = Object.entries(labels).map(([k, val]) => `${k}="${val}"`).join(",");
      return [`${name}{${inner}} ${s.value[1]} ${Math.round(s.value[0] * 1000)}`];
    });
  }
  const series = await promGet<Record<string, string>[]>("/api/v1/series", { ...span, "match[]": q });
  return series.map((s) => {
    const { __name__: name = "", ...labels } = s;
    return `${name}{${Object.entries(labels).map(([k, val]) => `${k}="${val}"`).join(",")}}`;
  });
}

/** Grafana's stringToJsRegex: `/re/flags`, else the text must match whole. */
function toRegex(text: string): RegExp {
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(text);
  return m ? new RegExp(m[1], m[2]) : new RegExp(`^${text}$`);
}

/** The variable's `regex`: values that do not match are dropped; a capture group picks the value. */
export function applyRegex(values: string[], regex: string): VarOption[] {
  const out: VarOption[] = [];
  const seen = new Set<string>();
  const re = regex ? toRegex(regex) : null;
  for (const raw of values) {
    let text = raw;
    let value = raw;
    if (re) {
      re.lastIndex = 0;
      const m = re.exec(raw);
      if (!m) continue;
      if (m.groups?.value !== undefined || m.groups?.text !== undefined) {
        value = m.groups.value ?? m.groups.text;
        text = m.groups.text ?? m.groups.value;
      } else if (m.length > 1 && m[1] !== undefined) {
        text = value = m[1];
      }
    }
    if (seen.has(value)) continue;
    seen.add(value);
    out.push({ text, value });
  }
  return out;
}

/** Grafana's variable sort: 1/2 alphabetical, 3/4 numerical, 5/6 case-insensitive, 7/8 natural (odd ascending). */
export function sortOptions(options: VarOption[], sort: number): VarOption[] {
  if (!sort) return options;
  const kind = Math.ceil(sort / 2);
  const collator = new Intl.Collator(undefined, { numeric: true });
  const num = (t: string) => {
    const m = /(-?\d+(?:\.\d+)?)/.exec(t);
    return m ? parseFloat(m[1]) : -Infinity;
  };
  const sorted = [...options];
  if (kind === 1) sorted.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  else if (kind === 2) sorted.sort((a, b) => num(a.text) - num(b.text));
  else if (kind === 3) sorted.sort((a, b) => a.text.toLowerCase().localeCompare(b.text.toLowerCase()));
  else sorted.sort((a, b) => collator.compare(a.text, b.text));
  if (sort % 2 === 0) sorted.reverse();
  return sorted;
}

/** Writes the selection of every variable into `params` as var-<name> (repeatable). */
export function writeParams(vars: Variable[], params: URLSearchParams): void {
  for (const v of vars) {
    params.delete(`var-${v.name}`);
    if (v.type === "constant" || v.type === "datasource") continue;
    for (const x of v.current) params.append(`var-${v.name}`, x);
  }
}

let idSeq = 0;

/** The bar of variable controls; `onChange(name)` after the user picks a value. */
export function variableBar(vars: Variable[], onChange: (name: string) => void): HTMLElement {
  const bar = h("div", { class: "dash-vars", role: "group", "aria-label": "Variables" });
  for (const v of vars) {
    if (v.hide === 2) continue;
    const id = `var-${++idSeq}-${v.name}`;
    // A <summary> cannot be labelled by <label for>: multi-value pickers use aria-labelledby.
    const label = v.multi && v.type !== "textbox"
      ? h("span", { id: `${id}-label`, class: `var-label${v.hide === 1 ? " visually-hidden" : ""}` }, v.label)
      : h("label", { for: id, class: `var-label${v.hide === 1 ? " visually-hidden" : ""}` }, v.label);
    let control: HTMLElement;
    if (v.type === "textbox") {
      const input = h("input", { id, type: "text", value: v.current[0] ?? "", "data-var": v.name });
      input.addEventListener("change", () => {
        v.current = [input.value];
        onChange(v.name);
      });
      control = input;
    } else if (v.multi) {
      control = multiSelect(v, id, onChange);
    } else {
      const select = h("select", { id, "data-var": v.name });
      const choices = v.includeAll ? [{ text: "All", value: ALL }, ...v.options] : v.options;
      for (const o of choices) select.append(h("option", { value: o.value }, o.text));
      if (!choices.some((o) => o.value === v.current[0]) && v.current[0] !== undefined) {
        select.append(h("option", { value: v.current[0] }, v.current[0]));
      }
      select.value = v.current[0] ?? "";
      select.addEventListener("change", () => {
        v.current = [select.value];
        onChange(v.name);
      });
      control = select;
    }
    bar.append(h("div", { class: "dash-var" }, label, control, v.error ? h("span", { class: "var-error", role: "alert" }, v.error) : null));
  }
  return bar;
}

function multiSelect(v: Variable, id: string, onChange: (name: string) => void): HTMLElement {
  const summaryText = () => (v.current.includes(ALL) ? "All" : v.current.map((x) => v.options.find((o) => o.value === x)?.text ?? x).join(" + ") || "None");
  const summary = h("summary", { id, "data-var": v.name, "aria-labelledby": `${id}-label ${id}` }, summaryText());
  // Typing narrows the options to those whose text holds what is typed (any case).
  const search = h("input", { type: "search", class: "var-search", placeholder: "Search", "aria-label": `Search ${v.label}`, autocomplete: "off" });
  const box = h("fieldset", { class: "var-options" }, h("legend", { class: "visually-hidden" }, v.label), search);
  const boxes: [string, HTMLInputElement][] = [];
  const rows: [string, HTMLElement][] = [];
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    for (const [text, row] of rows) row.hidden = q !== "" && !text.toLowerCase().includes(q);
  });
  const choices = v.includeAll ? [{ text: "All", value: ALL }, ...v.options] : v.options;
  for (const o of choices) {
    const input = h("input", { type: "checkbox", value: o.value, checked: v.current.includes(o.value) });
    boxes.push([o.value, input]);
    input.addEventListener("change", () => {
      if (o.value === ALL) {
        v.current = input.checked ? [ALL] : v.options.slice(0, 1).map((x) => x.value);
      } else {
        const picked = boxes.filter(([val, b]) => val !== ALL && b.checked).map(([val]) => val);
        v.current = picked.length ? picked : v.includeAll ? [ALL] : v.options.slice(0, 1).map((x) => x.value);
      }
      for (const [val, b] of boxes) b.checked = v.current.includes(val);
      summary.textContent = summaryText();
      onChange(v.name);
    });
    const row = h("label", { class: "var-option" }, input, o.text);
    if (o.value !== ALL) rows.push([o.text, row]);
    box.append(row);
  }
  const details = h("details", { class: "var-multi" }, summary, box);
  details.addEventListener("toggle", () => {
    if (details.open && !box.contains(document.activeElement)) search.focus();
  });
  details.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && details.open) {
      details.open = false;
      summary.focus();
    }
  });
  return details;
}
