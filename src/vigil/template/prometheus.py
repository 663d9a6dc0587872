"""Prometheus's template functions and its alert annotation expansion (Prometheus's template package)."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vigil.config.duration import Duration, DurationError
from vigil.model.regex import Anchor, Regex, RegexError, RegexMatch
from vigil.template._builtins import FuncError
from vigil.template._fmt import format_value, sprintf
from vigil.template._gotime import GoTime
from vigil.template._template import Template, TemplateError
from vigil.template._values import StringMap, go_type


@dataclass(frozen=True, slots=True)
class QueryResultSample:
    """One sample of an instant query result, as Prometheus's `query` template function returns it."""

    __go_type__ = "template.sample"

    labels: Mapping[str, str]
    value: float


QueryFunc = Callable[[str], list[QueryResultSample]]


@dataclass(frozen=True, slots=True)
class _Sample:
    """Go's *template.sample seen from templates: `.Labels` and `.Value`."""

    __go_type__ = "*template.sample"

    labels: StringMap
    value: float


class _QueryResult(list[_Sample]):
    __go_type__ = "template.queryResult"


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise FuncError("can't convert bool to float")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return _parse_go_float(v)
        except ValueError:
            raise FuncError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
    raise FuncError(f"can't convert {go_type(v)} to float")


_GO_FLOAT = re.compile(
    r"[+-]?(\d[\d_]*\.?[\d_]*|\.[\d_]+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.I
)


def _parse_go_float(s: str) -> float:
    if not _GO_FLOAT.fullmatch(s) and not s.lower().startswith(("0x", "+0x", "-0x")):
        raise ValueError(s)
    if s.lower().lstrip("+-").startswith("0x"):
        return float.fromhex(s)
    return float(s.replace("_", ""))


def _g4(v: float) -> str:
    return sprintf("%.4g", [v])


def humanize(i: Any) -> str:
    v = _to_float(i)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return _g4(v) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return _g4(v) + prefix


def humanize1024(i: Any) -> str:
    v = _to_float(i)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return _g4(v) + prefix


def _go_int64(v: float) -> int:
    """Go's int64(v) on amd64: out-of-range conversions give the minimum int64."""
    if not -(2.0**63) <= v < 2.0**63:
        return -(2**63)
    return int(v)


def _go_quo(a: int, b: int) -> int:
    """Go's integer division, truncating toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _go_rem(a: int, b: int) -> int:
    return a - _go_quo(a, b) * b


def humanize_duration(i: Any) -> str:
    v = _to_float(i)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign, v = "-", -v
        duration = _go_int64(v)
        seconds = _go_rem(duration, 60)
        minutes = _go_rem(_go_quo(duration, 60), 60)
        hours = _go_rem(_go_quo(duration, 3600), 24)
        days = _go_quo(duration, 86400)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(i: Any) -> str:
    return _g4(_to_float(i) * 100) + "%"


class _NaNOrInf(Exception):
    pass


def _float_to_time(v: float) -> GoTime:
    if math.isnan(v) or math.isinf(v):
        raise _NaNOrInf
    nanos = v * 1e9
    if nanos > 2**63 - 1 or nanos < -(2**63):
        raise FuncError(
            f"{format_value(v)} cannot be represented as a nanoseconds timestamp since it overflows int64"
        )
    millis = int(nanos) // 1_000_000 if nanos >= 0 else -(-int(nanos) // 1_000_000)
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=millis)
    return GoTime(when)


def humanize_timestamp(i: Any) -> str:
    v = _to_float(i)
    try:
        return str(_float_to_time(v))
    except _NaNOrInf:
        return _g4(v)


def to_time(i: Any) -> GoTime:
    v = _to_float(i)
    try:
        return _float_to_time(v)
    except _NaNOrInf:
        raise FuncError("value is NaN or Inf") from None


def title(text: str) -> str:
    """strings.Title: upper-cases the first letter of each word, leaving the rest alone."""
    out: list[str] = []
    prev = " "
    for c in text:
        out.append(c.upper() if _is_separator(prev) else c)
        prev = c
    return "".join(out)


def _is_separator(c: str) -> bool:
    if ord(c) <= 0x7F:
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdigit():
        return False
    return c.isspace()


def to_upper(s: str) -> str:
    return s.upper()


def to_lower(s: str) -> str:
    return s.lower()


def _go_regexp(pattern: str) -> Regex:
    try:
        return Regex(pattern, Anchor.SEARCH)
    except RegexError as err:
        raise FuncError(str(err)) from None


def match(pattern: str, text: str) -> bool:
    return _go_regexp(pattern).matches(text)


_GO_REPL = re.compile(r"\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """regexp.ReplaceAllString: `$1`/`${name}` expand; `$1x` names group "1x" (empty), as in Go."""
    regex = _go_regexp(pattern)

    def expand(m: RegexMatch) -> str:
        def group(g: re.Match[str]) -> str:
            if g.group(1) == "$":
                return "$"
            name = g.group(2) or g.group(3)
            try:
                value = m.group(int(name)) if name.isdigit() else m.group(name)
            except (IndexError, re.error):
                return ""
            return value or ""

        return _GO_REPL.sub(group, repl)

    return regex.sub(expand, text)


def safe_html(text: str) -> str:
    return text


def strip_port(host_port: str) -> str:
    host, _, ok = _split_host_port(host_port)
    return host if ok else host_port


def _split_host_port(s: str) -> tuple[str, str, bool]:
    """net.SplitHostPort, reduced to whether it succeeds and its parts."""
    if s.startswith("["):
        end = s.find("]")
        if end < 0 or not s[end + 1 :].startswith(":") or "[" in s[1:end]:
            return "", "", False
        port = s[end + 2 :]
        return s[1:end], port, ":" not in port and "]" not in port
    i = s.rfind(":")
    if i < 0:
        return "", "", False
    host, port = s[:i], s[i + 1 :]
    if ":" in host or "[" in host or "]" in host or "]" in port:
        return "", "", False
    return host, port, True


def strip_domain(host_port: str) -> str:
    host, port, ok = _split_host_port(host_port)
    if not ok:
        host, port = host_port, ""
    try:
        ipaddress.ip_address(host)
        return host_port
    except ValueError:
        pass
    host = host.split(".")[0]
    if port:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host


def graph_link(expr: str) -> str:
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr, safe='')}&g0.tab=0"


def table_link(expr: str) -> str:
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr, safe='')}&g0.tab=1"


def args(*values: Any) -> dict[str, Any]:
    return {f"arg{i}": v for i, v in enumerate(values)}


def first(v: _QueryResult) -> _Sample:
    if v:
        return v[0]
    raise FuncError("first() called on vector with no elements")


def label(name: str, s: _Sample | None) -> str:
    return "" if s is None else s.labels.get(name, "")


def value(s: _Sample | None) -> float:
    return 0.0 if s is None else s.value


def strvalue(s: _Sample | None) -> str:
    return "" if s is None else s.labels.get("__value__", "")


def sort_by_label(name: str, v: _QueryResult) -> _QueryResult:
    v.sort(key=lambda s: s.labels.get(name, "").encode())
    return v


def parse_duration(d: str) -> float:
    """model.ParseDuration in seconds: `1h30m`, `5m`, `100ms`, `0`."""
    try:
        return Duration.parse(d).seconds
    except DurationError:
        raise FuncError(f'not a valid duration string: "{d}"') from None


@dataclass(slots=True)
class _Holder:
    template: Template | None = None


@dataclass(frozen=True, slots=True)
class AlertTemplateData:
    """The data Prometheus executes alert annotation templates with (template.AlertTemplateData)."""

    __go_type__ = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }"

    labels: StringMap
    external_labels: StringMap
    external_url: str
    value: float


def template_funcs(
    query: QueryFunc | None = None,
    external_url: str = "",
    holder: _Holder | None = None,
) -> dict[str, Callable[..., Any]]:
    """Prometheus's template FuncMap; `query` plugs in the rule engine's PromQL evaluation."""
    parsed_url = urllib.parse.urlsplit(external_url)

    def query_fn(q: str) -> _QueryResult:
        if query is None:
            raise FuncError("no query engine available")
        return _QueryResult(_Sample(StringMap(s.labels), s.value) for s in query(q))

    def tmpl(name: str, data: Any) -> str:
        if holder is None or holder.template is None:
            raise FuncError("tmpl is not available here")
        t = holder.template.lookup(name)
        if t is None:
            raise FuncError(f'html/template: no such template "{name}"')
        try:
            return t.execute(data)
        except TemplateError as err:
            raise FuncError(str(err)) from None

    def path_prefix() -> str:
        return parsed_url.path

    def external_url_fn() -> str:
        return external_url

    return {
        "query": query_fn,
        "first": first,
        "label": label,
        "value": value,
        "strvalue": strvalue,
        "args": args,
        "reReplaceAll": re_replace_all,
        "safeHtml": safe_html,
        "match": match,
        "title": title,
        "toUpper": to_upper,
        "toLower": to_lower,
        "graphLink": graph_link,
        "tableLink": table_link,
        "sortByLabel": sort_by_label,
        "humanize": humanize,
        "humanize1024": humanize1024,
        "humanizeDuration": humanize_duration,
        "humanizePercentage": humanize_percentage,
        "humanizeTimestamp": humanize_timestamp,
        "toTime": to_time,
        "pathPrefix": path_prefix,
        "externalURL": external_url_fn,
        "parseDuration": parse_duration,
        "stripPort": strip_port,
        "stripDomain": strip_domain,
        "tmpl": tmpl,
    }


ALERT_DEFS = (
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}"
)


@functools.lru_cache(maxsize=1024)
def _parsed(name: str, text: str) -> Template:
    return Template.parse(name, text, template_funcs(), missing_key="zero")


def parse_prometheus_template(
    name: str, text: str, query: QueryFunc | None = None, external_url: str = ""
) -> Template:
    """Parses a template with Prometheus's functions and options (missingkey=zero).

    Parse trees are cached by (name, text): rules re-expand the same annotations every evaluation.
    """
    holder = _Holder()
    holder.template = _parsed(name, text).with_funcs(template_funcs(query, external_url, holder))
    return holder.template


def expand_alert_template(
    name: str,
    text: str,
    labels: Mapping[str, str],
    value: float,
    external_labels: Mapping[str, str],
    external_url: str,
    query: QueryFunc | None,
) -> str:
    """Renders an alert label/annotation template as Prometheus's rule evaluation does.

    `name` is the template name; Prometheus uses `__alert_<alertname>`. Like Prometheus, a
    failing template yields `<error expanding template: ...>` instead of raising.
    """
    data = AlertTemplateData(StringMap(labels), StringMap(external_labels), external_url, value)
    try:
        tmpl = parse_prometheus_template(name, ALERT_DEFS + text, query, external_url)
    except TemplateError as err:
        return f"<error expanding template: error parsing template {name}: {err}>"
    try:
        return tmpl.execute(data)
    except TemplateError as err:
        return f"<error expanding template: error executing template {name}: {err}>"
