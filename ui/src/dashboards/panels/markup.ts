// The text panel's decisions, kept free of the DOM so they can be tested on their own: which
// HTML tags and attributes survive, which hrefs are safe, and a parser for a safe subset of
// Markdown into a small tree that text.ts turns into nodes (never into markup).

/** Tags an HTML-mode text panel keeps; every other element is replaced by its text. */
const ALLOWED_TAGS = new Set([
  "p", "br", "b", "i", "em", "strong", "a", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
  "code", "pre", "span", "div", "table", "thead", "tbody", "tr", "td", "th", "hr", "blockquote",
]);

export function allowedTag(tag: string): boolean {
  return ALLOWED_TAGS.has(tag.toLowerCase());
}

/** Only `title`, and `href` on links, are copied; no style, no event handlers, no src. */
export function allowedAttribute(tag: string, name: string): boolean {
  const n = name.toLowerCase();
  return n === "title" || (n === "href" && tag.toLowerCase() === "a");
}

/**
 * The href to set, or null to drop the link: http(s) URLs and relative references only. Tabs and
 * newlines are removed and C0 controls/spaces trimmed first, as a browser's URL parser does, so
 * "java\tscript:" cannot hide its scheme.
 */
export function safeHref(href: string): string | null {
  // eslint-disable-next-line no-control-regex
  const cleaned = href.replace(/[\t\n\r]/g, "").replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "");
  if (!cleaned) return null;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(cleaned);
  if (scheme) return /^https?$/i.test(scheme[1]) ? cleaned : null;
  // A colon before any "/", "?" or "#" that did not parse as a scheme: refuse rather than guess.
  const colon = cleaned.indexOf(":");
  if (colon >= 0 && !/[/?#]/.test(cleaned.slice(0, colon))) return null;
  return cleaned;
}

// ---- Markdown -------------------------------------------------------------------------------

export type Inline =
  | { t: "text"; v: string }
  | { t: "code"; v: string }
  | { t: "br" }
  | { t: "em" | "strong" | "del"; c: Inline[] }
  /** `href` null: the link's target was refused; its text still shows. */
  | { t: "link"; href: string | null; title: string | null; c: Inline[] };

export type Block =
  | { t: "h"; level: number; c: Inline[] }
  | { t: "p"; c: Inline[] }
  | { t: "ul"; items: Block[][] }
  | { t: "ol"; start: number; items: Block[][] }
  | { t: "pre"; v: string }
  | { t: "quote"; c: Block[] }
  | { t: "table"; head: Inline[][]; rows: Inline[][][] }
  | { t: "hr" };

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?/;
const BULLET = /^( {0,3})([-*+])\s+/;
const ORDERED = /^( {0,3})(\d{1,9})[.)]\s+/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function startsBlock(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || BULLET.test(line) || ORDERED.test(line);
}

function cells(row: string): string[] {
  let r = row.trim();
  if (r.startsWith("|")) r = r.slice(1);
  if (r.endsWith("|") && !r.endsWith("\\|")) r = r.slice(0, -1);
  return r.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

/** Block structure of a Markdown text (CommonMark's common cases; raw HTML stays text). */
export function parseMarkdown(src: string, depth = 0): Block[] {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const out: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      out.push({ t: "pre", v: body.join("\n") });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      out.push({ t: "h", level: heading[1].length, c: parseInline(heading[2] ?? "") });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push({ t: "hr" });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && lines[i].trim() && (QUOTE.test(lines[i]) || !startsBlock(lines[i]))) body.push(lines[i++].replace(QUOTE, ""));
      out.push({ t: "quote", c: depth < 8 ? parseMarkdown(body.join("\n"), depth + 1) : [{ t: "p", c: parseInline(body.join("\n")) }] });
      continue;
    }
    const bullet = BULLET.exec(line);
    const ordered = bullet ? null : ORDERED.exec(line);
    if (bullet || ordered) {
      const marker = bullet ? BULLET : ORDERED;
      const items: Block[][] = [];
      let current: string[] = [];
      let indent = 0;
      const close = (): void => {
        if (current.length) items.push(depth < 8 ? parseMarkdown(current.join("\n"), depth + 1) : [{ t: "p", c: parseInline(current.join("\n")) }]);
        current = [];
      };
      while (i < lines.length) {
        const l = lines[i];
        const m = marker.exec(l);
        if (m && m[1].length <= indent + 1) {
          close();
          indent = m[1].length;
          current.push(l.slice(m[0].length));
        } else if (!l.trim()) {
          if (i + 1 < lines.length && (marker.exec(lines[i + 1]) || /^\s{2,}/.test(lines[i + 1]))) current.push("");
          else break;
        } else if (/^\s{2,}/.test(l) || (!startsBlock(l) && current.length && lines[i - 1].trim())) {
          current.push(l.replace(/^\s{1,4}/, ""));
        } else break;
        i++;
      }
      close();
      if (bullet) out.push({ t: "ul", items });
      else out.push({ t: "ol", start: Number(ordered![2]), items });
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      const head = cells(line).map(parseInline);
      const rows: Inline[][][] = [];
      i += 2;
      while (i < lines.length && lines[i].trim() && lines[i].includes("|")) rows.push(cells(lines[i++]).map(parseInline));
      out.push({ t: "table", head, rows });
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || !lines[i].trim())) body.push(lines[i++].replace(/^( {4}|\t)/, ""));
      out.push({ t: "pre", v: body.join("\n").replace(/\n+$/, "") });
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i].trim()) {
      // Setext heading: a paragraph line underlined by === or ---.
      if (para.length && /^ {0,3}(=+|-+)\s*$/.test(lines[i])) {
        out.push({ t: "h", level: lines[i].trim()[0] === "=" ? 1 : 2, c: parseInline(para.join("\n")) });
        para.length = 0;
        i++;
        break;
      }
      if (para.length && startsBlock(lines[i])) break;
      para.push(lines[i++]);
    }
    if (para.length) out.push({ t: "p", c: parseInline(para.join("\n")) });
  }
  return out;
}

// A destination may hold balanced parentheses one level deep: [x](javascript:alert(1)).
const DEST = String.raw`<?((?:[^\s()<>]|\([^\s()]*\))*)>?(?:\s+["']([^"']*)["'])?\s*\)`;
const LINK = new RegExp(String.raw`^\[((?:[^[\]\\]|\\.|\[[^\]]*\])*)\]\(\s*` + DEST);
const IMAGE = new RegExp(String.raw`^!\[([^\]]*)\]\(\s*` + DEST);
const AUTOLINK = /^<(https?:\/\/[^\s<>]+)>/i;
const ESCAPABLE = /[\\`*_{}[\]()#+\-.!|~<>"']/;

const SPAN_WINDOW = 1000;

/** A code span opening at `i`: [content start, content end, index after the closing run], or null. */
function codeSpanEnd(s: string, i: number): [number, number, number] | null {
  let k = i;
  while (s[k] === "`") k++;
  const run = k - i;
  let j = k;
  while (j < s.length) {
    const at = s.indexOf("`", j);
    if (at < 0) return null;
    let e = at;
    while (s[e] === "`") e++;
    if (e - at === run) return [k, at, e];
    j = e;
  }
  return null;
}

/** Inline Markdown: code, emphasis, strong, strikethrough, links, hard breaks; the rest is text. */
export function parseInline(s: string, depth = 0): Inline[] {
  const out: Inline[] = [];
  let text = "";
  const flush = (): void => {
    if (text) out.push({ t: "text", v: text });
    text = "";
  };
  const nested = (inner: string): Inline[] => (depth < 8 ? parseInline(inner, depth + 1) : [{ t: "text", v: inner }]);
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    // Spans are matched within a window, so a pathological text cannot make the regexes quadratic.
    const rest = s.slice(i, i + SPAN_WINDOW);
    let m: RegExpExecArray | null;
    if (c === "\\" && i + 1 < s.length) {
      if (s[i + 1] === "\n") {
        flush();
        out.push({ t: "br" });
        i += 2;
        continue;
      }
      if (ESCAPABLE.test(s[i + 1])) {
        text += s[i + 1];
        i += 2;
        continue;
      }
    }
    if (c === "`") {
      const end = codeSpanEnd(s, i);
      if (end === null) {
        let k = i;
        while (s[k] === "`") k++;
        text += s.slice(i, k);
        i = k;
        continue;
      }
      flush();
      const v = s.slice(end[0], end[1]).replace(/\n/g, " ");
      out.push({ t: "code", v: /^ .* $/.test(v) ? v.slice(1, -1) : v });
      i = end[2];
      continue;
    }
    if (c === "!" && (m = IMAGE.exec(rest))) {
      // Images are not loaded: the alt text links to the image instead.
      flush();
      out.push({ t: "link", href: safeHref(m[2]), title: m[3] ?? null, c: [{ t: "text", v: m[1] || m[2] }] });
      i += m[0].length;
      continue;
    }
    if (c === "[" && (m = LINK.exec(rest))) {
      flush();
      out.push({ t: "link", href: safeHref(m[2]), title: m[3] ?? null, c: nested(m[1]) });
      i += m[0].length;
      continue;
    }
    if (c === "<" && (m = AUTOLINK.exec(rest))) {
      flush();
      out.push({ t: "link", href: safeHref(m[1]), title: null, c: [{ t: "text", v: m[1] }] });
      i += m[0].length;
      continue;
    }
    const intraword = i > 0 && /[\p{L}\p{N}]/u.test(s[i - 1]);
    if ((c === "*" || (c === "_" && !intraword)) && (m = /^(\*\*|__)(?=\S)([\s\S]*?\S)\1/.exec(rest))) {
      flush();
      out.push({ t: "strong", c: nested(m[2]) });
      i += m[0].length;
      continue;
    }
    if ((c === "*" || (c === "_" && !intraword)) && (m = /^([*_])(?=[^\s*_])([\s\S]*?[^\s\\])\1(?![*_\p{L}\p{N}])/u.exec(rest))) {
      flush();
      out.push({ t: "em", c: nested(m[2]) });
      i += m[0].length;
      continue;
    }
    if (c === "~" && (m = /^~~(?=\S)([\s\S]*?\S)~~/.exec(rest))) {
      flush();
      out.push({ t: "del", c: nested(m[1]) });
      i += m[0].length;
      continue;
    }
    if (c === "\n") {
      let spaces = 0;
      while (text[text.length - 1 - spaces] === " ") spaces++;
      const hard = spaces >= 2;
      text = text.slice(0, text.length - spaces);
      if (hard) {
        flush();
        out.push({ t: "br" });
      } else text += "\n";
      i++;
      continue;
    }
    text += c;
    i++;
  }
  flush();
  return out;
}

// A start tag with its attributes; quoted values may hold ">".
const START_TAG = /<[a-zA-Z][^\s/>]*(?:"[^"]*"|'[^']*'|[^"'>])*>?/g;
const HANDLER = /([\s"'/])([oO][nN][a-zA-Z0-9_-]*\s*=)/g;

/**
 * Renames `on…=` attributes inside start tags before the HTML is parsed. The parsed document is
 * inert and those attributes are never copied anyway, but Chromium checks the page's CSP as soon
 * as a parser sets an inline handler (even in a DOMParser document) and logs a violation; renamed,
 * they are plain data attributes. Text between tags is left alone.
 */
export function renameHandlers(html: string): string {
  return html.replace(START_TAG, (tag) => tag.replace(HANDLER, "$1data-inert-$2"));
}
