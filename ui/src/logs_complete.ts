// LogQL completions for the Logs page's query editor: label names after `{` (or `,`) and in
// `by (...)`, a label's values after `=`, `!=`, `=~` or `!~` and an opening quote, both from
// vigil's Loki label API over the page's time range and narrowed by the selector's other
// `name="value"` matchers; LogQL's functions, aggregations, keywords and pipeline stages by
// prefix. The cursor's place is read as the Query page reads PromQL's (the same braces,
// quotes and groupings).
import { getJSON } from "./api";
import {
  type Completer,
  type Kind,
  MAX_SUGGESTIONS,
  type Suggestion,
  contextAt,
  escapeString,
  rank,
} from "./query/autocomplete";

export const LOGQL_FUNCTIONS = [
  "absent_over_time", "avg_over_time", "bytes_over_time", "bytes_rate", "count_over_time",
  "first_over_time", "label_replace", "last_over_time", "max_over_time", "min_over_time",
  "quantile_over_time", "rate", "rate_counter", "stddev_over_time", "stdvar_over_time",
  "sum_over_time", "vector",
];
export const LOGQL_AGGREGATIONS = [
  "avg", "bottomk", "count", "max", "min", "sort", "sort_desc", "stddev", "stdvar", "sum", "topk",
];
export const LOGQL_KEYWORDS = ["and", "bool", "by", "ignoring", "offset", "on", "or", "unless", "without"];
/** What may follow a `|`: parsers and the other pipeline stages. */
export const LOGQL_STAGES = [
  "decolorize", "drop", "json", "keep", "label_format", "line_format", "logfmt", "pattern", "regexp",
  "unpack", "unwrap",
];

type Span = () => [bigint, bigint];

/** The Loki label API's answers over the page's range, cached until `clear` (a new range). */
export class LogLabelSources {
  private readonly cache = new Map<string, Promise<string[]>>();

  constructor(private readonly span: Span) {}

  clear(): void {
    this.cache.clear();
  }

  labelNames(scope: string): Promise<string[]> {
    return this.get("/loki/api/v1/labels", scope);
  }

  labelValues(name: string, scope: string): Promise<string[]> {
    return this.get(`/loki/api/v1/label/${encodeURIComponent(name)}/values`, scope);
  }

  private get(path: string, scope: string): Promise<string[]> {
    const key = `${path}\u0000${scope}`;
    let p = this.cache.get(key);
    if (!p) {
      const [start, end] = this.span();
      const params: Record<string, string> = { start: String(start), end: String(end) };
      if (scope) params.query = scope;
      // A failed look-up is forgotten (the next keystroke asks again) and offers nothing.
      p = getJSON<{ data?: string[] }>(path, params).then(
        (body) => (Array.isArray(body.data) ? body.data : []),
        () => {
          this.cache.delete(key);
          return [];
        },
      );
      this.cache.set(key, p);
    }
    return p;
  }
}

const EQUALITY = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)+)"/g;

/** The selector's complete `name="value"` matchers before the cursor, but `except`'s, as a
 * selector to narrow a look-up with (`{a="b"}`); empty when there are none. */
export function scopeBefore(text: string, cursor: number, except: string): string {
  const before = text.slice(0, cursor);
  const brace = before.lastIndexOf("{");
  if (brace < 0 || before.indexOf("}", brace) >= 0) return "";
  const matchers = [...before.slice(brace + 1).matchAll(EQUALITY)]
    .filter((m) => m[1] !== except)
    .map((m) => `${m[1]}="${m[2]}"`);
  return matchers.length ? `{${matchers.join(", ")}}` : "";
}

function words(prefix: string, afterPipe: boolean): Suggestion[] {
  const kindOf = new Map<string, Kind>();
  if (afterPipe) for (const w of LOGQL_STAGES) kindOf.set(w, "keyword");
  else {
    for (const w of LOGQL_KEYWORDS) kindOf.set(w, "keyword");
    for (const w of LOGQL_AGGREGATIONS) kindOf.set(w, "aggregation");
    for (const w of LOGQL_FUNCTIONS) kindOf.set(w, "function");
  }
  return rank(kindOf.keys(), prefix).map((w) => ({ insert: w, text: w, kind: kindOf.get(w) ?? "keyword" }));
}

/** LogQL's completions at a cursor, from `sources`. */
export function logqlCompleter(sources: LogLabelSources): Completer {
  return async (text, cursor) => {
    const ctx = contextAt(text, cursor);
    switch (ctx.kind) {
      case "none":
        return null;
      case "expr": {
        if (!ctx.prefix) return null;
        const afterPipe = /\|\s*$/.test(text.slice(0, ctx.from));
        return { from: ctx.from, items: words(ctx.prefix, afterPipe).slice(0, MAX_SUGGESTIONS) };
      }
      case "label":
      case "grouping": {
        const scope = ctx.kind === "label" ? scopeBefore(text, cursor, "") : "";
        const names = await sources.labelNames(scope);
        const items = rank(names, ctx.prefix)
          .slice(0, MAX_SUGGESTIONS)
          .map((n) => ({ insert: n, text: n, kind: "label" as const }));
        return { from: ctx.from, items };
      }
      case "value": {
        const values = await sources.labelValues(ctx.label, scopeBefore(text, cursor, ctx.label));
        const items = rank(values, ctx.prefix)
          .slice(0, MAX_SUGGESTIONS)
          .map((v) => ({ insert: escapeString(v, ctx.quote), text: v, kind: "value" as const }));
        return { from: ctx.from, items };
      }
    }
  };
}
