// PromQL syntax highlighting for the editor, and the place a parse error points at. A small
// scanner (no grammar): enough to colour names, functions, keywords, strings, numbers and
// durations the way a reader expects, and to find the token under `1:14: parse error: ...`.
import { AGGREGATIONS } from "./autocomplete";

export type TokenKind =
  | "comment"
  | "string"
  | "number"
  | "duration"
  | "keyword"
  | "aggregation"
  | "function"
  | "metric"
  | "label"
  | "operator"
  | "punctuation"
  | "space";

export interface Token {
  kind: TokenKind;
  from: number;
  to: number;
}

const KEYWORDS = new Set([
  "and", "or", "unless", "atan2", "by", "without", "on", "ignoring", "group_left", "group_right",
  "bool", "offset", "start", "end",
]);
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const AGGREGATION_SET = new Set(AGGREGATIONS);
const NUMBER = /(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)((?:\d*(?:ms|[smhdwy]))*)/y;
const WORD = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const OPERATOR = /==|!=|<=|>=|=~|!~|[-+*/%^<>=@]/y;
const SPACE = /\s+/y;

function match(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}

/** The tokens of `text`, covering it whole (unknown characters are punctuation). */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let braces = false;
  let groupingNext = false;
  let grouping = false;
  let i = 0;
  const push = (kind: TokenKind, to: number): void => {
    tokens.push({ kind, from: i, to });
    i = to;
  };
  while (i < text.length) {
    const c = text[i];
    let m: RegExpExecArray | null;
    if ((m = match(SPACE, text, i))) push("space", i + m[0].length);
    else if (c === "#") {
      const nl = text.indexOf("\n", i);
      push("comment", nl < 0 ? text.length : nl);
    } else if (c === '"' || c === "'" || c === "`") push("string", stringEnd(text, i));
    else if (braces && (m = match(LABEL, text, i))) push("label", i + m[0].length);
    else if (!braces && /[0-9.]/.test(c) && (m = match(NUMBER, text, i))) push(m[1] ? "duration" : "number", i + m[0].length);
    else if (!braces && (m = match(WORD, text, i))) {
      const word = m[0];
      const lower = word.toLowerCase();
      const next = text.slice(i + word.length).trimStart();
      let kind: TokenKind = "metric";
      if (grouping) kind = "label";
      else if (KEYWORDS.has(lower)) kind = "keyword";
      else if (lower === "inf" || lower === "nan") kind = "number";
      else if (AGGREGATION_SET.has(lower) && /^(?:\(|by\b|without\b)/i.test(next)) kind = "aggregation";
      else if (next.startsWith("(")) kind = "function";
      groupingNext = GROUPING.has(lower) && !grouping;
      push(kind, i + word.length);
      continue;
    } else if ((m = match(OPERATOR, text, i))) push("operator", i + m[0].length);
    else {
      if (c === "{") braces = true;
      else if (c === "}") braces = false;
      else if (c === "(" && groupingNext) grouping = true;
      else if (c === ")") grouping = false;
      push("punctuation", i + 1);
    }
    if (tokens[tokens.length - 1].kind !== "space") groupingNext = false;
  }
  return tokens;
}

function stringEnd(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\" && quote !== "`") i++;
    else if (text[i] === quote) return i + 1;
    else if (text[i] === "\n" && quote !== "`") return i;
  }
  return text.length;
}

export interface ErrorSpan {
  /** Where the error is, in characters of the text: the token Prometheus names. */
  from: number;
  to: number;
}

/**
 * The span a `L:C: parse error: ...` message points at in `text` (the column counts UTF-8
 * bytes, as Prometheus's does); null when the message has no position or it is past the text.
 */
export function errorSpan(message: string, text: string): ErrorSpan | null {
  const m = /(\d+):(\d+): parse error: /.exec(message);
  if (!m) return null;
  const lines = text.split("\n");
  const line = lines[+m[1] - 1];
  if (line === undefined) return null;
  let bytes = +m[2] - 1;
  let col = 0;
  while (bytes > 0 && col < line.length) {
    const code = line.codePointAt(col) ?? 0;
    bytes -= code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    col += code > 0xffff ? 2 : 1;
  }
  if (bytes > 0) return null;
  let from = col;
  for (let i = 0; i < +m[1] - 1; i++) from += lines[i].length + 1;
  const token = tokenize(text).find((t) => t.from <= from && from < t.to && t.kind !== "space");
  return { from, to: token ? token.to : from };
}

/**
 * `target` filled with `text` as coloured spans (`tok-<kind>`), the error span wrapped in a
 * `<mark class="promql-error">` (an empty span — the end of input — marks one blank).
 */
export function paint(target: HTMLElement, text: string, error: ErrorSpan | null = null): void {
  const out: Node[] = [];
  const spans = (lo: number, hi: number): Node[] =>
    tokenize(text)
      .filter((t) => t.to > lo && t.from < hi)
      .map((t) => {
        const piece = text.slice(Math.max(t.from, lo), Math.min(t.to, hi));
        if (t.kind === "space") return document.createTextNode(piece);
        const span = document.createElement("span");
        span.className = `tok-${t.kind}`;
        span.textContent = piece;
        return span;
      });
  if (error) {
    out.push(...spans(0, error.from));
    const mark = document.createElement("mark");
    mark.className = "promql-error";
    if (error.to > error.from) mark.append(...spans(error.from, error.to));
    else mark.textContent = " ";
    out.push(mark, ...spans(error.to, text.length));
  } else out.push(...spans(0, text.length));
  // A final newline keeps the last (empty) line's height, as the textarea has it.
  out.push(document.createTextNode("\n"));
  target.replaceChildren(...out);
}
