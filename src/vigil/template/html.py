"""Go's html/template, reduced to what notification HTML needs: each printed value is escaped
for where it lands (element text, attribute value, URL attribute before or after its `?`),
HTML comments in the template text are dropped, and templates called from another context get
their own escaped copy. This is how Alertmanager renders `email.default.html`.

Contexts not modelled (JavaScript, CSS, unquoted attributes) fall back to HTML escaping, which
is never less safe than Go's and only differs for values printed inside `<script>`/`<style>`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from vigil.template._ast import (
    ActionNode,
    BranchNode,
    CommandNode,
    IdentifierNode,
    ListNode,
    Node,
    TemplateNode,
    TextNode,
)
from vigil.template._fmt import sprint
from vigil.template._parse import Tree
from vigil.template._values import MISSING


class SafeHTML(str):
    """Go's template.HTML: trusted markup that element-text escaping leaves alone."""

    __slots__ = ()


def _stringify(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint([a for a in args if a is not MISSING])


_HTML_TABLE = str.maketrans(
    {
        "\x00": "\ufffd",
        '"': "&#34;",
        "&": "&amp;",
        "'": "&#39;",
        "+": "&#43;",
        "<": "&lt;",
        ">": "&gt;",
    }
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")


def html_escaper(*args: Any) -> str:
    if len(args) == 1 and isinstance(args[0], SafeHTML):
        return str(args[0])
    return _stringify(args).translate(_HTML_TABLE)


def attr_escaper(*args: Any) -> str:
    if len(args) == 1 and isinstance(args[0], SafeHTML):
        return re.sub(r"<[^>]*>", "", str(args[0])).translate(_HTML_TABLE)
    return _stringify(args).translate(_HTML_TABLE)


_URL_KEEP_NORM = frozenset("!#$&*+,/:;=?@[]%-._~")
_URL_KEEP = frozenset("-._~")
_SAFE_SCHEMES = ("http", "https", "mailto")


def _url_process(text: str, keep: frozenset[str]) -> str:
    out: list[str] = []
    for byte in text.encode():
        c = chr(byte)
        if (c.isascii() and c.isalnum()) or c in keep:
            out.append(c)
        else:
            out.append(f"%{byte:02x}")
    return "".join(out)


def url_filter(*args: Any) -> str:
    text = _stringify(args)
    scheme, sep, _ = text.partition(":")
    if sep and "/" not in scheme and scheme.lower() not in _SAFE_SCHEMES:
        return "#ZgotmplZ"
    return text


def url_normalizer(*args: Any) -> str:
    return _url_process(_stringify(args), _URL_KEEP_NORM)


def url_escaper(*args: Any) -> str:
    return _url_process(_stringify(args), _URL_KEEP)


ESCAPERS: dict[str, Callable[..., str]] = {
    "_html_template_htmlescaper": html_escaper,
    "_html_template_attrescaper": attr_escaper,
    "_html_template_urlfilter": url_filter,
    "_html_template_urlnormalizer": url_normalizer,
    "_html_template_urlescaper": url_escaper,
}
# A pipeline that already ends in one of Go's predefined escapers keeps it in place of ours.
_EQUIVALENT = {
    "html": {"_html_template_htmlescaper", "_html_template_attrescaper"},
    "urlquery": {"_html_template_urlescaper", "_html_template_urlnormalizer"},
}
_URL_ATTRS = frozenset(
    [
        "action",
        "archive",
        "background",
        "cite",
        "classid",
        "codebase",
        "data",
        "formaction",
        "href",
        "icon",
        "longdesc",
        "manifest",
        "poster",
        "profile",
        "src",
        "usemap",
        "xmlns",
    ]
)
_RCDATA = frozenset({"title", "textarea"})
_RAWTEXT = frozenset({"script", "style"})


@dataclass(frozen=True, slots=True)
class _Context:
    """Where the output stands: element text, inside a tag, or inside an attribute value."""

    state: str = "text"  # text | tag | after_name | before_value | value | rcdata | rawtext
    element: str = ""
    url: bool = False
    delim: str = ""
    url_part: int = 0  # 0 at the start, 1 in the path, 2 after ? or #

    def key(self) -> str:
        return f"{self.state}:{self.element}:{int(self.url)}:{self.delim}:{self.url_part}"

    def escapers(self) -> list[str]:
        if self.state == "value" and self.url:
            return [
                ["_html_template_urlfilter", "_html_template_urlnormalizer"],
                ["_html_template_urlnormalizer"],
                ["_html_template_urlescaper"],
            ][self.url_part] + ["_html_template_attrescaper"]
        if self.state == "value":
            return ["_html_template_attrescaper"]
        return ["_html_template_htmlescaper"]

    def after_value(self) -> _Context:
        if self.state == "value" and self.url and self.url_part == 0:
            return replace(self, url_part=1)
        return self


def _is_url_attr(name: str) -> bool:
    name = name.lower().removeprefix("data-").split(":")[-1]
    return name in _URL_ATTRS or any(part in name for part in ("src", "uri", "url"))


def _scan(text: str, ctx: _Context) -> tuple[str, _Context]:
    """Move the context across template text; drop HTML comments found in element text."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if ctx.state == "text":
            if text.startswith("<!--", i):
                end = text.find("-->", i + 4)
                i = n if end < 0 else end + 3
                continue
            match = _TAG.match(text, i)
            if match:
                element = "" if match.group(1) else match.group(2).lower()
                ctx = _Context("tag", element)
                out.append(match.group(0))
                i = match.end()
                continue
        elif ctx.state in ("rcdata", "rawtext"):
            if text[i : i + 2 + len(ctx.element)].lower() == f"</{ctx.element}":
                out.append(text[i : i + 2 + len(ctx.element)])
                i += 2 + len(ctx.element)
                ctx = _Context("tag")
                continue
        elif ctx.state == "tag":
            if c == ">":
                state = (
                    "rcdata"
                    if ctx.element in _RCDATA
                    else "rawtext"
                    if ctx.element in _RAWTEXT
                    else "text"
                )
                ctx = _Context(state, ctx.element if state != "text" else "")
            elif not c.isspace() and c != "/":
                match = re.compile(r"[^\s=>/]+").match(text, i)
                assert match is not None
                out.append(match.group(0))
                i = match.end()
                ctx = replace(ctx, state="after_name", url=_is_url_attr(match.group(0)))
                continue
        elif ctx.state == "after_name":
            if c == "=":
                ctx = replace(ctx, state="before_value")
            elif not c.isspace():
                ctx = replace(ctx, state="tag", url=False)
                continue
        elif ctx.state == "before_value":
            if c in "\"'":
                ctx = replace(ctx, state="value", delim=c, url_part=0)
            elif not c.isspace():
                ctx = replace(ctx, state="value", delim=" ", url_part=0)
                continue
        elif ctx.state == "value":
            if c == ctx.delim or (ctx.delim == " " and (c.isspace() or c == ">")):
                ctx = replace(ctx, state="tag", url=False, delim="")
                if c == ">":
                    continue
            elif ctx.url:
                ctx = replace(ctx, url_part=2 if c in "?#" else max(ctx.url_part, 1))
        out.append(c)
        i += 1
    return "".join(out), ctx


class _Escaper:
    def __init__(self, trees: dict[str, Tree]) -> None:
        self.source = trees
        self.out: dict[str, Tree] = {}
        self.ends: dict[str, _Context] = {}

    def template(self, name: str, ctx: _Context) -> tuple[str, _Context]:
        """The name of `name`'s copy escaped for starting in `ctx`, and its end context."""
        derived = name if ctx == _Context() else f"{name}$htmltemplate_{ctx.key()}"
        if derived in self.ends:
            return derived, self.ends[derived]
        tree = self.source.get(name)
        if tree is None:
            return name, ctx
        self.ends[derived] = ctx  # a recursive call assumes the context is unchanged
        root = copy.deepcopy(tree.root)
        end = self.list(root, ctx)
        self.out[derived] = Tree(derived, root, tree.text, tree.parse_name)
        self.ends[derived] = end
        return derived, end

    def list(self, node: ListNode, ctx: _Context) -> _Context:
        for child in node.nodes:
            ctx = self.node(child, ctx)
        return ctx

    def node(self, node: Node, ctx: _Context) -> _Context:
        if isinstance(node, TextNode):
            node.text, ctx = _scan(node.text, ctx)
            return ctx
        if isinstance(node, ActionNode):
            if node.pipe.decl:
                return ctx
            escapers = ctx.escapers()
            last = node.pipe.cmds[-1].args[0] if node.pipe.cmds[-1].args else None
            if isinstance(last, IdentifierNode) and last.ident in _EQUIVALENT:
                escapers = [e for e in escapers if e not in _EQUIVALENT[last.ident]]
            for name in escapers:
                node.pipe.cmds.append(CommandNode(node.pos, [IdentifierNode(node.pos, name)]))
            return ctx.after_value()
        if isinstance(node, BranchNode):
            end = self.list(node.list, ctx)
            if node.else_list is not None:
                self.list(node.else_list, ctx)
            return end
        if isinstance(node, TemplateNode):
            node.name, end = self.template(node.name, ctx)
            return end
        return ctx


def escape_trees(
    trees: dict[str, Tree], name: str, funcs: dict[str, Callable[..., Any]]
) -> tuple[dict[str, Tree], dict[str, Callable[..., Any]]]:
    """Trees where template `name` and everything it calls escape their output, and the
    functions to run them with."""
    escaper = _Escaper(trees)
    escaper.template(name, _Context())
    escaped = {**trees, **escaper.out}
    return escaped, {
        **funcs,
        **ESCAPERS,
        "safeHtml": lambda text: SafeHTML(text),
    }
