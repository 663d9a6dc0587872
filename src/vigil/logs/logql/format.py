"""A query's canonical text (what Loki's `format_query` answers): one line, single spaces,
Go-quoted strings; `parse(format_expr(parse(q)))` equals `parse(q)`."""

from __future__ import annotations

import math
from collections.abc import Callable

from vigil.logs.logql import ast
from vigil.model import Matcher

_PRECEDENCE = {
    "or": 1, "and": 2, "unless": 2,
    "==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3, "<=": 3,
    "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6,
}  # fmt: skip
_UNITS = (
    ("y", 365 * 86400 * 10**9), ("w", 7 * 86400 * 10**9), ("d", 86400 * 10**9),
    ("h", 3600 * 10**9), ("m", 60 * 10**9), ("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1),
)  # fmt: skip


LeafText = Callable[[ast.RangeAggregation], str]


def format_expr(expr: ast.Expr, leaf: LeafText | None = None) -> str:
    """The canonical text; `leaf` (when given) prints each range aggregation instead, which
    turns the metric operators around them into PromQL text."""
    if leaf is not None and isinstance(expr, ast.RangeAggregation):
        return leaf(expr)
    match expr:
        case ast.LogQuery():
            return _log_query(expr)
        case ast.RangeAggregation(op, log_range, param, grouping):
            args = (f"{format_number(param)}," if param is not None else "") + _log_range(log_range)
            return f"{op}({args}){_grouping_suffix(grouping)}"
        case ast.VectorAggregation(op, inner, param, grouping):
            head = f"{op}{_grouping_suffix(grouping)} " if grouping else op
            prefix = f"{format_number(param)}," if param is not None else ""
            return f"{head}({prefix}{format_expr(inner, leaf)})"
        case ast.BinaryOp():
            return _binary(expr, leaf)
        case ast.NumberLiteral(value):
            return format_number(value)
        case ast.VectorLiteral(value):
            return f"vector({format_number(value)})"
        case ast.LabelReplace(inner, dst, replacement, src, regex):
            strings = ",".join(go_quote(s) for s in (dst, replacement, src, regex))
            return f"label_replace({format_expr(inner, leaf)},{strings})"
    raise TypeError(f"not a LogQL expression: {expr!r}")


def format_number(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def format_duration(ns: int) -> str:
    if ns == 0:
        return "0s"
    sign, ns, parts = ("-" if ns < 0 else ""), abs(ns), []
    for unit, size in _UNITS:
        if ns >= size:
            parts.append(f"{ns // size}{unit}")
            ns %= size
    return sign + "".join(parts)


def go_quote(text: str) -> str:
    """Go's strconv.Quote for the characters queries hold."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif not char.isprintable():
            code = ord(char)
            out.append(
                f"\\x{code:02x}"
                if code < 0x80
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
        else:
            out.append(char)
    return "".join(out) + '"'


def format_matcher(matcher: Matcher) -> str:
    return f"{matcher.name}{matcher.type.value}{go_quote(matcher.value)}"


def _log_query(query: ast.LogQuery) -> str:
    selector = "{" + ", ".join(format_matcher(m) for m in query.matchers) + "}"
    return selector + "".join(" " + format_stage(stage) for stage in query.stages)


def _log_range(log_range: ast.LogRange) -> str:
    text = _log_query(log_range.query)
    if log_range.unwrap is not None:
        unwrap = log_range.unwrap
        label = f"{unwrap.conversion}({unwrap.label})" if unwrap.conversion else unwrap.label
        text += f" | unwrap {label}" + "".join(
            f" | {format_label_filter(f)}" for f in unwrap.filters
        )
    text += f" [{format_duration(log_range.range_ns)}]"
    if log_range.offset_ns:
        text += f" offset {format_duration(log_range.offset_ns)}"
    return text


def _grouping_suffix(grouping: ast.Grouping | None) -> str:
    if grouping is None:
        return ""
    return f" {'without' if grouping.without else 'by'} ({', '.join(grouping.labels)})"


def _binary(expr: ast.BinaryOp, leaf: LeafText | None) -> str:
    prec = _PRECEDENCE[expr.op]
    right_assoc = expr.op == "^"
    lhs = _operand(expr.lhs, prec, leaf, tighter=right_assoc)
    rhs = _operand(expr.rhs, prec, leaf, tighter=not right_assoc)
    modifiers = " bool" if expr.return_bool else ""
    matching = expr.matching
    if matching.on or matching.ignoring:
        modifiers += f" {'on' if matching.on else 'ignoring'}({', '.join(matching.labels)})"
        if matching.card is not ast.Cardinality.ONE_TO_ONE:
            modifiers += f" {matching.card.value}({', '.join(matching.include)})"
    return f"{lhs} {expr.op}{modifiers} {rhs}"


def _operand(expr: ast.MetricExpr, prec: int, leaf: LeafText | None, *, tighter: bool) -> str:
    text = format_expr(expr, leaf)
    if isinstance(expr, ast.BinaryOp):
        inner = _PRECEDENCE[expr.op]
        if inner < prec or (inner == prec and tighter):
            return f"({text})"
    return text


def format_stage(stage: ast.Stage) -> str:
    match stage:
        case ast.LineFilter(op, terms):
            return f"{op} " + " or ".join(_filter_term(t) for t in terms)
        case ast.JsonParser(extractions):
            return ("| json " + _extractions(extractions)).rstrip()
        case ast.LogfmtParser(strict, keep_empty, extractions):
            flags = (" --strict" if strict else "") + (" --keep-empty" if keep_empty else "")
            return (f"| logfmt{flags} " + _extractions(extractions)).rstrip()
        case ast.RegexpParser(pattern):
            return f"| regexp {go_quote(pattern)}"
        case ast.PatternParser(pattern):
            return f"| pattern {go_quote(pattern)}"
        case ast.UnpackParser():
            return "| unpack"
        case ast.LabelFilterStage(label_filter):
            return f"| {format_label_filter(label_filter)}"
        case ast.LineFormat(template):
            return f"| line_format {go_quote(template)}"
        case ast.LabelFormat(renames):
            return "| label_format " + ", ".join(
                f"{r.dst}={go_quote(r.src) if r.template else r.src}" for r in renames
            )
        case ast.Decolorize():
            return "| decolorize"
        case ast.Drop(labels):
            return "| drop " + ", ".join(_selection(s) for s in labels)
        case ast.Keep(labels):
            return "| keep " + ", ".join(_selection(s) for s in labels)
    raise TypeError(f"not a pipeline stage: {stage!r}")


def format_label_filter(label_filter: ast.LabelFilter) -> str:
    match label_filter:
        case ast.MatcherFilter(matcher):
            return format_matcher(matcher)
        case ast.IpFilter(name, negated, cidr):
            return f"{name}{'!=' if negated else '='}ip({go_quote(cidr)})"
        case ast.ComparisonFilter(name, op, _, _, text):
            return f"{name}{op}{text}"
        case ast.AndFilter(left, right):
            right_text = _and_side(right)
            if isinstance(right, ast.AndFilter):
                right_text = f"({right_text})"
            return f"{_and_side(left)} and {right_text}"
        case ast.OrFilter(left, right):
            right_text = format_label_filter(right)
            if isinstance(right, ast.OrFilter):
                right_text = f"({right_text})"
            return f"{format_label_filter(left)} or {right_text}"
    raise TypeError(f"not a label filter: {label_filter!r}")


def _and_side(label_filter: ast.LabelFilter) -> str:
    text = format_label_filter(label_filter)
    return f"({text})" if isinstance(label_filter, ast.OrFilter) else text


def _filter_term(term: ast.FilterTerm) -> str:
    return f"ip({go_quote(term.value)})" if term.ip else go_quote(term.value)


def _extractions(extractions: tuple[ast.Extraction, ...]) -> str:
    return ", ".join(
        e.name if e.expression is None else f"{e.name}={go_quote(e.expression)}"
        for e in extractions
    )


def _selection(selection: ast.LabelSelection) -> str:
    return selection.name if selection.matcher is None else format_matcher(selection.matcher)
