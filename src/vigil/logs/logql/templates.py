"""`line_format` and `label_format` templates: Go templates (vigil.template) with the
functions Loki adds, rendered with a line's labels as dot and `__line__`/`__timestamp__`."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import re2

from vigil.template import GoTime, StringMap, Template, TemplateError


def _regex(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _go_expand(template: str) -> str:
    """Go's `${1}`/`$name` references as Python's `\\g<...>`."""
    out, i = [], 0
    while i < len(template):
        char = template[i]
        if char == "$" and i + 1 < len(template):
            if template[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            end = template.find("}", i) if template[i + 1] == "{" else i + 1
            if template[i + 1] == "{" and end != -1:
                out.append(f"\\g<{template[i + 2 : end]}>")
                i = end + 1
                continue
            j = i + 1
            while j < len(template) and (template[j].isalnum() or template[j] == "_"):
                j += 1
            if j > i + 1:
                out.append(f"\\g<{template[i + 1 : j]}>")
                i = j
                continue
        out.append("\\\\" if char == "\\" else char)
        i += 1
    return "".join(out)


def _to_int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _trunc(n: Any, text: str) -> str:
    n = _to_int(n)
    return text[:n] if n >= 0 else text[n:]


def _substr(start: Any, end: Any, text: str) -> str:
    s, e = _to_int(start), _to_int(end)
    if s < 0:
        return text[:e]
    if e < 0 or e > len(text):
        return text[s:]
    return text[s:e]


def _time(seconds: float) -> GoTime:
    return GoTime(dt.datetime.fromtimestamp(seconds, tz=dt.UTC))


_LAYOUT_TOKEN = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|Z07:00|-07:00|Z0700|-0700|[.,](?:0+|9+)|PM|pm|"
    r"_2|01|02|03|04|05|06|15|1|2|3|4|5|%"
)
_STRPTIME = {
    "January": "%B", "Jan": "%b", "Monday": "%A", "Mon": "%a", "MST": "%Z", "2006": "%Y",
    "06": "%y", "01": "%m", "1": "%m", "02": "%d", "2": "%d", "_2": "%d", "15": "%H",
    "03": "%I", "3": "%I", "04": "%M", "4": "%M", "05": "%S", "5": "%S", "PM": "%p",
    "pm": "%p", "Z07:00": "%z", "-07:00": "%z", "Z0700": "%z", "-0700": "%z", "%": "%%",
}  # fmt: skip


def _to_date(layout: str, value: str) -> GoTime:
    """sprig's toDate: `value` read with Go's reference layout; the zero time when it does
    not fit (sprig ignores the error)."""

    def token(found: re.Match[str]) -> str:
        text = found.group()
        return _STRPTIME.get(text, text[0] + "%f")

    try:
        when = dt.datetime.strptime(value, _LAYOUT_TOKEN.sub(token, layout))
    except ValueError:
        when = dt.datetime(1, 1, 1)
    return GoTime(when if when.tzinfo else when.replace(tzinfo=dt.UTC))


def _unix_epoch(t: Any) -> int:
    return t.unix() if isinstance(t, GoTime) else _to_int(t)


def _date(layout: str, t: Any) -> str:
    return (t if isinstance(t, GoTime) else _time(_to_float(t))).format(layout)


def _align_left(n: Any, text: str) -> str:
    width = _to_int(n)
    return text[:width].ljust(width)


def _align_right(n: Any, text: str) -> str:
    width = _to_int(n)
    return text[-width:].rjust(width) if width else ""


LOKI_FUNCS: dict[str, Callable[..., Any]] = {
    "ToLower": str.lower,
    "ToUpper": str.upper,
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
    "Title": str.title,
    "Replace": lambda s, old, new, n: s.replace(old, new, n if _to_int(n) >= 0 else -1),
    "replace": lambda old, new, s: s.replace(old, new),
    "Trim": lambda s, cut: s.strip(cut),
    "TrimLeft": lambda s, cut: s.lstrip(cut),
    "TrimRight": lambda s, cut: s.rstrip(cut),
    "TrimPrefix": lambda s, p: s.removeprefix(p),
    "TrimSuffix": lambda s, p: s.removesuffix(p),
    "TrimSpace": str.strip,
    "trim": str.strip,
    "trimAll": lambda cut, s: s.strip(cut),
    "trimPrefix": lambda p, s: s.removeprefix(p),
    "trimSuffix": lambda p, s: s.removesuffix(p),
    "trunc": _trunc,
    "substr": _substr,
    "contains": lambda sub, s: sub in s,
    "hasPrefix": lambda p, s: s.startswith(p),
    "hasSuffix": lambda p, s: s.endswith(p),
    "repeat": lambda n, s: s * max(_to_int(n), 0),
    "indent": lambda n, s: " " * _to_int(n) + s.replace("\n", "\n" + " " * _to_int(n)),
    "nindent": lambda n, s: "\n" + " " * _to_int(n) + s.replace("\n", "\n" + " " * _to_int(n)),
    "default": lambda d, *v: v[0] if v and v[0] not in ("", None, 0, False) else d,
    "regexReplaceAll": lambda p, s, r: _regex(p).sub(_go_expand(r), s),
    "regexReplaceAllLiteral": lambda p, s, r: _regex(p).sub(lambda _: r, s),
    "b64enc": lambda s: base64.b64encode(s.encode()).decode(),
    "b64dec": lambda s: base64.b64decode(s.encode()).decode("utf-8", "replace"),
    "urlencode": lambda s: urllib.parse.quote_plus(s),
    "urldecode": lambda s: urllib.parse.unquote_plus(s),
    "count": lambda sub, s: s.count(sub),
    "int": _to_int,
    "float64": _to_float,
    "add": lambda *a: sum(_to_int(x) for x in a),
    "sub": lambda a, b: _to_int(a) - _to_int(b),
    "mul": lambda *a: math.prod(_to_int(x) for x in a),
    "div": lambda a, b: int(_to_int(a) / _to_int(b)) if _to_int(b) else 0,
    "mod": lambda a, b: _to_int(a) % _to_int(b) if _to_int(b) else 0,
    "addf": lambda *a: sum(_to_float(x) for x in a),
    "subf": lambda a, *b: _to_float(a) - sum(_to_float(x) for x in b),
    "mulf": lambda *a: math.prod(_to_float(x) for x in a),
    "divf": lambda a, *b: _to_float(a) / math.prod(_to_float(x) for x in b),
    "max": lambda *a: max(_to_int(x) for x in a),
    "min": lambda *a: min(_to_int(x) for x in a),
    "maxf": lambda *a: max(_to_float(x) for x in a),
    "minf": lambda *a: min(_to_float(x) for x in a),
    "ceil": lambda x: float(math.ceil(_to_float(x))),
    "floor": lambda x: float(math.floor(_to_float(x))),
    "round": lambda x, p=0, *_: round(_to_float(x), _to_int(p)),
    "alignLeft": _align_left,
    "alignRight": _align_right,
    "toDate": _to_date,
    "unixEpoch": _unix_epoch,
    "date": _date,
    "unixToTime": lambda s: _time(_to_float(s)),
    "fromJson": json.loads,
}


class LineTemplate:
    """A parsed line_format/label_format template; `render` runs it for one line."""

    def __init__(self, text: str) -> None:
        self.line = ""
        self.ts_ns = 0
        funcs = {
            **LOKI_FUNCS,
            "__line__": lambda: self.line,
            "__timestamp__": lambda: _time(self.ts_ns / 1e9),
        }
        self.template = Template.parse("line", text, funcs, missing_key="zero")

    def render(self, labels: dict[str, str], line: str, ts_ns: int) -> str:
        """Raises TemplateError (Loki then keeps the line and sets TemplateFormatErr)."""
        self.line, self.ts_ns = line, ts_ns
        return self.template.execute(StringMap(labels))


__all__ = ["LineTemplate", "TemplateError"]
