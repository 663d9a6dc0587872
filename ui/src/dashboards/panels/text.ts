// Grafana's `text` panel. Markdown is parsed into a small tree (markup.ts) and built node by
// node; HTML is parsed by DOMParser into an inert document (no scripts run, nothing loads) and
// only allowlisted tags with href/title are copied across — everything else becomes its text.
import { type Child, h } from "../../dom";
import type { PanelRenderer } from "../types";
import { type Block, type Inline, allowedAttribute, allowedTag, parseMarkdown, renameHandlers, safeHref } from "./markup";
import { obj } from "./reduced";
import "./panels.css";

function inlineNodes(items: Inline[]): Child[] {
  return items.map((n): Child => {
    switch (n.t) {
      case "text":
        return n.v;
      case "code":
        return h("code", null, n.v);
      case "br":
        return h("br");
      case "em":
        return h("em", null, inlineNodes(n.c));
      case "strong":
        return h("strong", null, inlineNodes(n.c));
      case "del":
        return h("del", null, inlineNodes(n.c));
      case "link":
        if (n.href === null) return h("span", null, inlineNodes(n.c));
        return h("a", { href: n.href, title: n.title, rel: "noopener noreferrer" }, inlineNodes(n.c));
    }
  });
}

function blockNodes(blocks: Block[]): Child[] {
  return blocks.map((b): Child => {
    switch (b.t) {
      case "h":
        return h(`h${Math.min(6, Math.max(1, b.level))}` as "h1", null, inlineNodes(b.c));
      case "p":
        return h("p", null, inlineNodes(b.c));
      case "ul":
        return h("ul", null, b.items.map((item) => h("li", null, listItem(item))));
      case "ol":
        return h("ol", { start: b.start === 1 ? null : b.start }, b.items.map((item) => h("li", null, listItem(item))));
      case "pre":
        return h("pre", null, h("code", null, b.v));
      case "quote":
        return h("blockquote", null, blockNodes(b.c));
      case "hr":
        return h("hr");
      case "table":
        return h(
          "table",
          null,
          h("thead", null, h("tr", null, b.head.map((c) => h("th", null, inlineNodes(c))))),
          h("tbody", null, b.rows.map((r) => h("tr", null, r.map((c) => h("td", null, inlineNodes(c)))))),
        );
    }
  });
}

/** A tight list item (one paragraph) shows its text without a <p> around it. */
function listItem(item: Block[]): Child[] {
  if (item.length === 1 && item[0].t === "p") return inlineNodes(item[0].c);
  return blockNodes(item);
}

/** Markdown as DOM nodes. */
export function renderMarkdown(src: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  for (const node of blockNodes(parseMarkdown(src))) if (node instanceof Node) frag.append(node);
  return frag;
}

/** HTML through the allowlist: a fragment of fresh elements, never the parsed ones. */
export function renderHtml(html: string): DocumentFragment {
  const doc = new DOMParser().parseFromString(renameHandlers(html), "text/html");
  const frag = document.createDocumentFragment();
  copyChildren(doc.body, frag);
  return frag;
}

function copyChildren(from: Node, to: Node): void {
  for (const child of Array.from(from.childNodes)) {
    if (child.nodeType === Node.TEXT_NODE) {
      to.appendChild(document.createTextNode(child.textContent ?? ""));
    } else if (child.nodeType === Node.ELEMENT_NODE) {
      const el = child as Element;
      const tag = el.localName.toLowerCase();
      // Only HTML-namespace elements: an <svg><a> is not an HTML link.
      if (el.namespaceURI === "http://www.w3.org/1999/xhtml" && allowedTag(tag)) {
        const copy = document.createElement(tag);
        for (const attr of Array.from(el.attributes)) {
          if (!allowedAttribute(tag, attr.name)) continue;
          if (attr.name.toLowerCase() === "href") {
            const href = safeHref(attr.value);
            if (href !== null) copy.setAttribute("href", href);
          } else copy.setAttribute(attr.name.toLowerCase(), attr.value);
        }
        if (tag === "a") copy.setAttribute("rel", "noopener noreferrer");
        copyChildren(el, copy);
        to.appendChild(copy);
      } else {
        const text = el.textContent;
        if (text) to.appendChild(document.createTextNode(text));
      }
    }
    // Comments and anything else are dropped.
  }
}

export const textPanel: PanelRenderer = (el, ctx) => {
  const o = obj(ctx.panel.options);
  const mode = typeof o.mode === "string" ? o.mode : typeof ctx.panel.mode === "string" ? ctx.panel.mode : "markdown";
  const raw = typeof o.content === "string" ? o.content : typeof ctx.panel.content === "string" ? ctx.panel.content : "";
  const content = ctx.interpolate(raw);
  const box = h("div", { class: `vp-text vp-text-${mode === "html" ? "html" : mode === "code" ? "code" : "markdown"}` });
  if (mode === "html") box.append(renderHtml(content));
  else if (mode === "code") box.append(h("pre", null, h("code", null, content)));
  else box.append(renderMarkdown(content));
  el.append(box);
};
