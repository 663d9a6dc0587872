// The text panel's decisions: allowed tags and attributes, safe hrefs, and the Markdown subset.
// The rendering itself (DOMParser, nodes) is exercised in the browser by tests/ui/test_panels.py.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Block, type Inline, allowedAttribute, allowedTag, parseInline, parseMarkdown, renameHandlers, safeHref } from "../src/dashboards/panels/markup";

test("tags: the allowlist and nothing else", () => {
  for (const tag of ["p", "br", "b", "i", "em", "strong", "a", "ul", "ol", "li", "h1", "h6", "code", "pre", "span", "div", "table", "tr", "td", "th", "TBODY"]) {
    assert.ok(allowedTag(tag), tag);
  }
  for (const tag of ["script", "img", "svg", "iframe", "style", "object", "embed", "form", "input", "math", "link", "meta", "base", "video", "audio", "template", "noscript", "textarea", "button"]) {
    assert.ok(!allowedTag(tag), tag);
  }
});

test("attributes: href on links and title; never handlers, style or src", () => {
  assert.ok(allowedAttribute("a", "href"));
  assert.ok(allowedAttribute("a", "HREF"));
  assert.ok(allowedAttribute("p", "title"));
  for (const [tag, attr] of [["p", "href"], ["a", "onclick"], ["p", "style"], ["div", "onmouseover"], ["a", "src"], ["span", "class"], ["a", "target"], ["a", "formaction"]]) {
    assert.ok(!allowedAttribute(tag, attr), `${tag} ${attr}`);
  }
});

const HREFS: [string, string | null][] = [
  ["https://grafana.com/docs", "https://grafana.com/docs"],
  ["HTTP://example.org", "HTTP://example.org"],
  ["/d/abc?var-job=x", "/d/abc?var-job=x"],
  ["../x", "../x"],
  ["#section", "#section"],
  ["?a=b", "?a=b"],
  ["page.html", "page.html"],
  ["//cdn.example.org/x", "//cdn.example.org/x"],
  ["  https://a.b  ", "https://a.b"],
  ["/path/with:colon", "/path/with:colon"],
  ["javascript:alert(1)", null],
  ["JavaScript:alert(1)", null],
  [" javascript:alert(1)", null],
  ["java\tscript:alert(1)", null],
  ["java\nscript:alert(1)", null],
  ["\u0001javascript:alert(1)", null],
  ["vbscript:msgbox", null],
  ["data:text/html,<script>alert(1)</script>", null],
  ["mailto:a@b.c", null],
  ["file:///etc/passwd", null],
  ["", null],
  ["   ", null],
];

for (const [href, want] of HREFS) {
  test(`safeHref ${JSON.stringify(href)} → ${JSON.stringify(want)}`, () => assert.equal(safeHref(href), want));
}

function texts(items: Inline[]): string {
  return items.map((i) => (i.t === "text" || i.t === "code" ? i.v : i.t === "br" ? "\n" : texts(i.c))).join("");
}

test("markdown blocks: headings, paragraphs, lists, code, quotes, rules, tables", () => {
  const md = [
    "# Title",
    "",
    "Some *emphasis* and **strong** and `code`.",
    "Second line of the paragraph.",
    "",
    "- one",
    "- two with [a link](https://example.org \"Example\")",
    "",
    "3. third",
    "4. fourth",
    "",
    "```",
    "<script>alert(1)</script>",
    "```",
    "",
    "> quoted",
    "",
    "---",
    "",
    "| a | b |",
    "|---|:-:|",
    "| 1 | 2 |",
    "",
    "Heading two",
    "-----------",
  ].join("\n");
  const blocks = parseMarkdown(md);
  assert.deepEqual(blocks.map((b) => b.t), ["h", "p", "ul", "ol", "pre", "quote", "hr", "table", "h"]);
  const [h1, p, ul, ol, pre, , , table, h2] = blocks as [Block & { t: "h" }, Block & { t: "p" }, Block & { t: "ul" }, Block & { t: "ol" }, Block & { t: "pre" }, Block, Block, Block & { t: "table" }, Block & { t: "h" }];
  assert.deepEqual([h1.level, texts(h1.c)], [1, "Title"]);
  assert.deepEqual(p.c.map((i) => i.t), ["text", "em", "text", "strong", "text", "code", "text"]);
  assert.equal(ul.items.length, 2);
  assert.equal(ol.start, 3);
  assert.equal(pre.v, "<script>alert(1)</script>");
  assert.deepEqual([table.head.length, table.rows.length, texts(table.rows[0][1])], [2, 1, "2"]);
  assert.deepEqual([h2.level, texts(h2.c)], [2, "Heading two"]);
  const link = (ul.items[1][0] as Block & { t: "p" }).c.find((i) => i.t === "link");
  assert.deepEqual(link, { t: "link", href: "https://example.org", title: "Example", c: [{ t: "text", v: "a link" }] });
});

test("markdown: unsafe links keep their text but lose the href; raw HTML stays text", () => {
  const items = parseInline('[click](javascript:alert(1)) <img src=x onerror=alert(1)> [ok](/d/x) <https://a.b/c>');
  const links = items.filter((i): i is Inline & { t: "link" } => i.t === "link");
  assert.deepEqual(links.map((l) => l.href), [null, "/d/x", "https://a.b/c"]);
  assert.equal(texts(items), "click <img src=x onerror=alert(1)> ok https://a.b/c");
  const image = parseInline("![alt text](javascript:alert(1))");
  assert.deepEqual(image, [{ t: "link", href: null, title: null, c: [{ t: "text", v: "alt text" }] }]);
});

test("markdown inline: escapes, intraword underscores, hard breaks, strikethrough", () => {
  assert.equal(texts(parseInline("\\*not em\\*")), "*not em*");
  assert.deepEqual(parseInline("snake_case_name").map((i) => i.t), ["text"]);
  assert.deepEqual(parseInline("a  \nb").map((i) => i.t), ["text", "br", "text"]);
  assert.deepEqual(parseInline("~~gone~~").map((i) => i.t), ["del"]);
  assert.deepEqual(parseInline("**bold *and em***")[0].t, "strong");
});

test("markdown: deep nesting is bounded", () => {
  const deep = ">".repeat(500) + " x";
  assert.doesNotThrow(() => parseMarkdown(deep));
  assert.doesNotThrow(() => parseInline("*".repeat(2000) + "x" + "*".repeat(2000)));
});

test("renameHandlers: every on…= inside a start tag, text between tags untouched", () => {
  const cases: [string, string][] = [
    ["<img src=x onerror=alert(1)>", "<img src=x data-inert-onerror=alert(1)>"],
    ['<img src="x"onerror=alert(1)>', '<img src="x"data-inert-onerror=alert(1)>'],
    ["<img/onerror=alert(1)>", "<img/data-inert-onerror=alert(1)>"],
    ["<svg\nONLOAD = alert(1)>", "<svg\ndata-inert-ONLOAD = alert(1)>"],
    ['<a title="a>b" onclick="x">t</a>', '<a title="a>b" data-inert-onclick="x">t</a>'],
    ["<p>so on=1 and <b>bold</b></p>", "<p>so on=1 and <b>bold</b></p>"],
    ["<a href='/x?on=1'>one=two</a>", "<a href='/x?on=1'>one=two</a>"],
  ];
  for (const [html, want] of cases) assert.equal(renameHandlers(html), want, html);
});
