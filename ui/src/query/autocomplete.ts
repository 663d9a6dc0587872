// What to offer at the cursor of a PromQL expression, and where the offers come from:
// metric names, label names and label values from the API (cached), functions and keywords
// from a static list.
import { promGet } from "../api";
import type { MetadataData } from "../api/types/metadata";

export const FUNCTIONS = [
  "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max",
  "clamp_min", "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month",
  "delta", "deriv", "exp", "floor", "histogram_quantile", "hour", "idelta", "increase", "irate",
  "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "max_over_time",
  "min_over_time", "minute", "month", "predict_linear", "present_over_time",
  "quantile_over_time", "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt",
  "stddev_over_time", "stdvar_over_time", "sum_over_time", "time", "timestamp", "vector", "year",
];
export const AGGREGATIONS = [
  "avg", "bottomk", "count", "count_values", "group", "max", "min", "quantile", "stddev", "stdvar",
  "sum", "topk",
];
export const KEYWORDS = [
  "and", "bool", "by", "group_left", "group_right", "ignoring", "offset", "on", "or", "unless",
  "without",
];

export type Kind = "metric" | "function" | "aggregation" | "keyword" | "label" | "value";

export interface Suggestion {
  /** What is inserted in place of the typed prefix. */
  insert: string;
  /** What the list shows (the label value unescaped, say). */
  text: string;
  kind: Kind;
  /** A metric's TYPE and HELP, from its targets' metadata. */
  type?: string;
  help?: string;
}

/** What to offer at a cursor: the suggestions, and where the text they replace begins. */
export interface Completion {
  from: number;
  items: Suggestion[];
}

/** The editor's source of completions (PromQL's here, LogQL's on the Logs page). */
export type Completer = (text: string, cursor: number) => Promise<Completion | null>;

/** Where the cursor is, grammatically, and the prefix the suggestion replaces. */
export type Context =
  | { kind: "expr"; prefix: string; from: number }
  | { kind: "label"; metric: string; prefix: string; from: number }
  | { kind: "grouping"; prefix: string; from: number }
  | { kind: "value"; metric: string; label: string; prefix: string; from: number; quote: string }
  | { kind: "none" };

const IDENT_TAIL = /[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Reads the text before the cursor and says what kind of word the user is typing. */
export function contextAt(text: string, cursor: number): Context {
  const before = text.slice(0, cursor);
  // Skip over complete strings to know whether the cursor is in a string, braces or brackets.
  let brace = -1;
  let bracket = -1;
  let quote = "";
  let quoteStart = -1;
  const parens: number[] = [];
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (quote) {
      if (c === "\\" && quote !== "`") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      quote = c;
      quoteStart = i;
    } else if (c === "{") brace = i;
    else if (c === "}") brace = -1;
    else if (c === "[") bracket = i;
    else if (c === "]") bracket = -1;
    else if (c === "(") parens.push(i);
    else if (c === ")") parens.pop();
    else if (c === "#") {
      const nl = before.indexOf("\n", i);
      if (nl < 0) return { kind: "none" };
      i = nl;
    }
  }
  if (bracket >= 0) return { kind: "none" };
  if (brace >= 0) {
    const inside = before.slice(brace + 1);
    // Prometheus 3 also names the metric inside the braces, quoted: {"my.metric", ...}.
    const named = /^\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/.exec(inside);
    const metric = named
      ? unescapeString(named[1])
      : (/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(before.slice(0, brace))?.[1] ?? "");
    if (quote) {
      const m = /(?:([a-zA-Z_][a-zA-Z0-9_]*)|"((?:[^"\\]|\\.)*)")\s*(?:=~|!~|!=|=)\s*$/.exec(before.slice(0, quoteStart));
      if (!m) return { kind: "none" };
      const prefix = before.slice(quoteStart + 1);
      const label = m[1] ?? unescapeString(m[2]);
      return { kind: "value", metric, label, prefix, from: quoteStart + 1, quote };
    }
    const m = /(?:^|,)\s*([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(inside);
    if (!m) return { kind: "none" };
    const prefix = m[1] ?? "";
    return { kind: "label", metric, prefix, from: cursor - prefix.length };
  }
  if (quote) return { kind: "none" };
  const open = parens[parens.length - 1];
  if (open !== undefined && /\b(?:by|without|on|ignoring|group_left|group_right)\s*$/.test(before.slice(0, open))) {
    const m = /(?:^|,)\s*([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(before.slice(open + 1));
    if (!m) return { kind: "none" };
    const prefix = m[1] ?? "";
    return { kind: "grouping", prefix, from: cursor - prefix.length };
  }
  const word = IDENT_TAIL.exec(before)?.[0] ?? "";
  // A number such as 1e3 or a duration such as 5m is not a word to complete.
  if (/[0-9.]$/.test(before.slice(0, cursor - word.length))) return { kind: "none" };
  return { kind: "expr", prefix: word, from: cursor - word.length };
}

/** Caches the API's answers for the life of the page (metric names rarely change mid-session). */
export class Sources {
  private metrics: Promise<string[]> | null = null;
  private meta: Promise<MetadataData> | null = null;
  private readonly labels = new Map<string, Promise<string[]>>();
  private readonly values = new Map<string, Promise<string[]>>();

  metricNames(): Promise<string[]> {
    this.metrics ??= cached(promGet<string[]>("/api/v1/label/__name__/values"), () => (this.metrics = null));
    return this.metrics;
  }

  /** `/api/v1/metadata`: TYPE and HELP per metric family; nothing when it fails. */
  metadata(): Promise<MetadataData> {
    this.meta ??= promGet<MetadataData>("/api/v1/metadata").then(
      (data) => data ?? {},
      () => {
        this.meta = null;
        return {};
      },
    );
    return this.meta;
  }

  labelNames(metric: string): Promise<string[]> {
    let p = this.labels.get(metric);
    if (!p) {
      p = cached(promGet<string[]>("/api/v1/labels", metric ? { "match[]": metric } : {}), () => this.labels.delete(metric));
      this.labels.set(metric, p);
    }
    return p;
  }

  labelValues(label: string, metric: string): Promise<string[]> {
    const key = `${label}\u0000${metric}`;
    let p = this.values.get(key);
    if (!p) {
      const path = `/api/v1/label/${encodeURIComponent(label)}/values`;
      p = cached(promGet<string[]>(path, metric ? { "match[]": metric } : {}), () => this.values.delete(key));
      this.values.set(key, p);
    }
    return p;
  }
}

/** A failed look-up is forgotten (so the next keystroke retries) and offers nothing. */
function cached(p: Promise<string[]>, forget: () => void): Promise<string[]> {
  return p.then(
    (names) => (Array.isArray(names) ? names : []),
    () => {
      forget();
      return [];
    },
  );
}

export const MAX_SUGGESTIONS = 100;

/** Words that start with `prefix` first, then those that merely contain it; case-insensitive. */
export function rank(words: Iterable<string>, prefix: string): string[] {
  const p = prefix.toLowerCase();
  const starts: string[] = [];
  const contains: string[] = [];
  for (const w of words) {
    const l = w.toLowerCase();
    if (l.startsWith(p)) starts.push(w);
    else if (p && l.includes(p)) contains.push(w);
  }
  return [...starts, ...contains];
}

// A series name's family as a TYPE line names it (OpenMetrics counters drop `_total`).
const FAMILY_SUFFIX = /_(?:total|bucket|count|sum|created|info|gcount|gsum)$/;

/** The metadata of a series name: its own, or its family's (`x_total` that of counter `x`). */
export function metadataFor(name: string, metadata: MetadataData): { type: string; help: string; family: string } | null {
  const family = name in metadata ? name : name.replace(FAMILY_SUFFIX, "");
  const first = metadata[family]?.[0];
  return first ? { type: first.type, help: first.help, family } : null;
}

const LEGACY_METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A metric name as PromQL writes it: bare, or `{"my.metric"}` for a Prometheus 3 UTF-8 name. */
export function metricSelector(name: string): string {
  return LEGACY_METRIC.test(name) ? name : `{"${escapeString(name, '"')}"}`;
}

/** A label name as PromQL writes it: bare, or quoted for a Prometheus 3 UTF-8 name. */
export function labelName(name: string): string {
  return LEGACY_LABEL.test(name) ? name : `"${escapeString(name, '"')}"`;
}

function unescapeString(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/** Escapes a label value for a PromQL string in `quote`. */
export function escapeString(value: string, quote: string): string {
  if (quote === "`") return value;
  return value.replace(/\\/g, "\\\\").replace(new RegExp(quote, "g"), `\\${quote}`).replace(/\n/g, "\\n");
}

/** The suggestions for `ctx`, fetched from the API where needed. */
export async function suggest(ctx: Context, sources: Sources): Promise<Suggestion[]> {
  switch (ctx.kind) {
    case "none":
      return [];
    case "expr": {
      if (!ctx.prefix) return [];
      const [metrics, metadata] = await Promise.all([sources.metricNames(), sources.metadata()]);
      const out: Suggestion[] = [];
      const kindOf = new Map<string, Kind>();
      for (const w of KEYWORDS) kindOf.set(w, "keyword");
      for (const w of AGGREGATIONS) kindOf.set(w, "aggregation");
      for (const w of FUNCTIONS) kindOf.set(w, "function");
      for (const w of rank(kindOf.keys(), ctx.prefix)) out.push({ insert: w, text: w, kind: kindOf.get(w) ?? "keyword" });
      for (const w of rank(metrics, ctx.prefix)) {
        const meta = metadataFor(w, metadata);
        out.push({ insert: metricSelector(w), text: w, kind: "metric", type: meta?.type, help: meta?.help });
      }
      // Exact prefix matches first whatever their kind, so `up` offers `up` before `update`.
      const p = ctx.prefix.toLowerCase();
      out.sort((a, b) => Number(!a.text.toLowerCase().startsWith(p)) - Number(!b.text.toLowerCase().startsWith(p)));
      return out.slice(0, MAX_SUGGESTIONS);
    }
    case "label":
    case "grouping": {
      const names = await sources.labelNames(ctx.kind === "label" && ctx.metric ? metricSelector(ctx.metric) : "");
      return rank(names.filter((n) => n !== "__name__"), ctx.prefix)
        .slice(0, MAX_SUGGESTIONS)
        .map((n) => ({ insert: labelName(n), text: n, kind: "label" as const }));
    }
    case "value": {
      const values = await sources.labelValues(ctx.label, ctx.metric && metricSelector(ctx.metric));
      return rank(values, ctx.prefix)
        .slice(0, MAX_SUGGESTIONS)
        .map((v) => ({ insert: escapeString(v, ctx.quote), text: v, kind: "value" as const }));
    }
  }
}

/** PromQL's completions from the Prometheus API. */
export function promqlCompleter(sources: Sources): Completer {
  return async (text, cursor) => {
    const ctx = contextAt(text, cursor);
    return ctx.kind === "none" ? null : { from: ctx.from, items: await suggest(ctx, sources) };
  };
}
