"""Alertmanager's extra template functions (its template.DefaultFuncs), for notification templates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from vigil.template._builtins import FuncError
from vigil.template._gotime import GoDuration, GoTime, go_time_format
from vigil.template.prometheus import (
    humanize_duration,
    match,
    re_replace_all,
    safe_html,
    to_lower,
    to_upper,
)


def title(text: str) -> str:
    """cases.Title as Alertmanager uses it: each word's first letter upper-cased, the rest lower.

    `_`, digits and inner apostrophes do not end a word (`bar_baz` -> `Bar_baz`, `3rd` -> `3Rd`).
    """
    out: list[str] = []
    seen_letter = False
    in_word = False
    for c in text:
        if c.isalnum() or c == "_" or (in_word and c in "'’"):
            in_word = True
            if c.isalpha() and not seen_letter:
                out.append(c.upper())
                seen_letter = True
            else:
                out.append(c.lower())
        else:
            out.append(c)
            in_word = seen_letter = False
    return "".join(out)


def trim_space(s: str) -> str:
    return s.strip(" \t\n\v\f\r\x85\xa0")


def join(sep: str, s: list[Any]) -> str:
    if not all(isinstance(e, str) for e in s):
        raise FuncError("wrong type for value; expected []string")
    return sep.join(s)


def string_slice(*s: str) -> list[str]:
    return list(s)


def _json_value(v: Any) -> Any:
    if isinstance(v, GoTime):
        return go_time_format(v.when, "2006-01-02T15:04:05.999999999Z07:00")
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        raise FuncError(f"json: unsupported value: {v}")
    if isinstance(v, Mapping):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_value(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {
            "".join(p.title() for p in f.name.split("_")): _json_value(getattr(v, f.name))
            for f in dataclasses.fields(v)
        }
    return v


def to_json(v: Any) -> str:
    """json.Marshal: compact, keys sorted, and <, >, & escaped as Go escapes them."""
    text = json.dumps(_json_value(v), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def date(layout: str, t: GoTime) -> str:
    return go_time_format(t.when, layout)


def tz(name: str, t: GoTime) -> GoTime:
    try:
        zone: dt.tzinfo = dt.UTC if name in ("", "UTC") else zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise FuncError(f"unknown time zone {name}") from None
    return GoTime(t.when.astimezone(zone))


def alertmanager_funcs(now: Callable[[], dt.datetime]) -> dict[str, Callable[..., Any]]:
    """Alertmanager's DefaultFuncs; `now` is the clock `since` measures against."""

    def since(t: GoTime) -> GoDuration:
        delta = now() - t.when
        return GoDuration((delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000)

    return {
        "toUpper": to_upper,
        "toLower": to_lower,
        "title": title,
        "trimSpace": trim_space,
        "join": join,
        "match": match,
        "safeHtml": safe_html,
        "reReplaceAll": re_replace_all,
        "stringSlice": string_slice,
        "toJson": to_json,
        "date": date,
        "tz": tz,
        "since": since,
        "humanizeDuration": humanize_duration,
    }
