// Why a panel has no data, when the answer is that no target exports a metric its queries
// read: the metric names a PromQL expression selects, checked against the names the server
// holds for the dashboard's range (one /api/v1/label/__name__/values request per range).
import { promGet } from "../api";

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"]);
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);

/** The metric names `expr` selects: bare names and `{__name__="x"}` / `{"x"}` selectors. */
export function selectedMetrics(expr: string): string[] {
  const out = new Set<string>();
  let i = 0;
  let braces = 0;
  let skipList = false;
  const n = expr.length;
  const readString = (): string => {
    const q = expr[i++];
    let s = "";
    while (i < n && expr[i] !== q) {
      if (expr[i] === "\\" && q !== "`") i++;
      s += expr[i++] ?? "";
    }
    i++;
    return s;
  };
  const next = (): string => expr.slice(i).trimStart()[0] ?? "";
  while (i < n) {
    const c = expr[i];
    if (c === '"' || c === "'" || c === "`") {
      const start = i;
      const s = readString();
      // {"my.metric"}: a quoted name alone among the matchers.
      const before = expr.slice(0, start).trimEnd();
      if (braces && (before.endsWith("{") || before.endsWith(",")) && /^[,}]/.test(next())) out.add(s);
      continue;
    }
    if (c === "{") braces++;
    else if (c === "}") braces = Math.max(0, braces - 1);
    else if (c === "[") {
      i = expr.indexOf("]", i) < 0 ? n : expr.indexOf("]", i) + 1;
      continue;
    } else if (c === "(" && skipList) {
      i = expr.indexOf(")", i) < 0 ? n : expr.indexOf(")", i) + 1;
      skipList = false;
      continue;
    } else if (c === "#") {
      i = expr.indexOf("\n", i) < 0 ? n : expr.indexOf("\n", i);
      continue;
    }
    const number = /^(0x[0-9a-f]+|[0-9][0-9a-z.]*|\.[0-9][0-9a-z]*)/i.exec(expr.slice(i));
    if (number) {
      i += number[0].length;
      continue;
    }
    const word = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (!word) {
      i++;
      continue;
    }
    i += word[0].length;
    const w = word[0];
    if (braces) {
      // Inside matchers only __name__="x" names a metric.
      if (w === "__name__" && next() === "=") {
        i = expr.indexOf("=", i) + 1;
        while (expr[i] === " ") i++;
        if (expr[i] === '"' || expr[i] === "'" || expr[i] === "`") out.add(readString());
      }
      continue;
    }
    if (GROUPING.has(w)) {
      skipList = next() === "(";
      continue;
    }
    // Functions and aggregations: `rate(`, `sum by (x) (`.
    if (KEYWORDS.has(w.toLowerCase()) || next() === "(" || /^\s*(by|without)\s*\(/.test(expr.slice(i))) continue;
    out.add(w);
  }
  return [...out];
}

/** The metric names the server holds between `from` and `to` (Unix ms), asked once per range. */
export class MetricNames {
  private readonly known = new Map<string, Promise<Set<string>>>();

  async missing(exprs: string[], from: number, to: number): Promise<string[]> {
    const names = [...new Set(exprs.flatMap(selectedMetrics))];
    if (!names.length) return [];
    const key = `${from}:${to}`;
    let held = this.known.get(key);
    if (!held) {
      held = promGet<string[]>("/api/v1/label/__name__/values", { start: String(from / 1000), end: String(to / 1000) }).then((v) => new Set(v));
      this.known.clear();
      this.known.set(key, held);
    }
    try {
      const have = await held;
      return names.filter((name) => !have.has(name));
    } catch {
      return [];
    }
  }
}
