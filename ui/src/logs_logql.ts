// The few facts the Logs page reads from a LogQL query's text: its stream selector, the
// literals of its `|= "..."` line filters, and the same query with one more label matcher.

/** The end (exclusive) of a quoted string starting at `i` ("..." with escapes, or `...`). */
function skipString(text: string, i: number): number {
  const quote = text[i];
  for (let j = i + 1; j < text.length; j++) {
    if (quote === '"' && text[j] === "\\") j++;
    else if (text[j] === quote) return j + 1;
  }
  return text.length;
}

/** Where the first `{...}` of `query` is, outside strings; null when it has none. */
export function selectorSpan(query: string): { start: number; end: number } | null {
  let start = -1;
  for (let i = 0; i < query.length; ) {
    const c = query[i];
    if (c === '"' || c === "`") {
      i = skipString(query, i);
      continue;
    }
    if (c === "{" && start < 0) start = i;
    else if (c === "}" && start >= 0) return { start, end: i + 1 };
    i++;
  }
  return null;
}

/** The stream selector of `query` (`{service_name="api"}`), or `{}` when it has none. */
export function selectorOf(query: string): string {
  const span = selectorSpan(query);
  return span ? query.slice(span.start, span.end) : "{}";
}

/** The literals a line must contain (`|= "x"`, `` |= `x` ``), which the rows highlight. */
export function lineFilterLiterals(query: string): string[] {
  const out: string[] = [];
  const span = selectorSpan(query);
  const rest = span ? query.slice(span.end) : query;
  for (const m of rest.matchAll(/\|=\s*("(?:[^"\\]|\\.)*"|`[^`]*`)/g)) {
    const raw = m[1];
    let literal: string;
    try {
      literal = raw.startsWith("`") ? raw.slice(1, -1) : (JSON.parse(raw) as string);
    } catch {
      continue;
    }
    if (literal) out.push(literal);
  }
  return out;
}

/** `query` with `name="value"` added to its selector (unchanged when it is there already). */
export function withMatcher(query: string, name: string, value: string): string {
  const matcher = `${name}=${JSON.stringify(value)}`;
  const span = selectorSpan(query);
  if (!span) return `{${matcher}}${query.trim() ? ` ${query.trim()}` : ""}`;
  const inner = query.slice(span.start + 1, span.end - 1);
  if (inner.split(",").some((m) => m.replace(/\s+/g, "") === matcher)) return query;
  const selector = inner.trim() ? `{${inner.trimEnd()}, ${matcher}}` : `{${matcher}}`;
  return query.slice(0, span.start) + selector + query.slice(span.end);
}

/** `line` cut into [text, matched] pieces: every occurrence of any literal is a match. */
export function markMatches(line: string, literals: readonly string[]): [string, boolean][] {
  const pieces: [string, boolean][] = [];
  let at = 0;
  while (literals.length) {
    let best = -1;
    let size = 0;
    for (const literal of literals) {
      const i = line.indexOf(literal, at);
      if (i >= 0 && (best < 0 || i < best || (i === best && literal.length > size))) {
        best = i;
        size = literal.length;
      }
    }
    if (best < 0) break;
    if (best > at) pieces.push([line.slice(at, best), false]);
    pieces.push([line.slice(best, best + size), true]);
    at = best + size;
  }
  if (at < line.length || pieces.length === 0) pieces.push([line.slice(at), false]);
  return pieces;
}
