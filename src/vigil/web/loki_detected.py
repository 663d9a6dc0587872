"""Loki's `detected_fields` and `detected_field/{name}/values`: the fields Grafana's query
editor and Explore offer for a log query, found in a sample of its lines (the newest
`line_limit`) by parsing each line as JSON, else as logfmt, as Loki does. A field's type is
that of its first value (int, float, boolean, duration, bytes, else string); its
cardinality is the number of distinct values in the sample."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from vigil.logs.logql import ast
from vigil.logs.logql.parsers import ParserError, json_parser, logfmt_parser
from vigil.logs.logql.result import Streams

_JSON = json_parser(ast.JsonParser())
_LOGFMT = logfmt_parser(ast.LogfmtParser())
_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_BOOL = frozenset({"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"})
_DURATION = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+\Z")
_BYTES = re.compile(r"[0-9]+(?:\.[0-9]+)?\s*(?:[kmgtpe]i?b?|b)\Z", re.IGNORECASE)
DEFAULT_LINE_LIMIT = 1000
DEFAULT_FIELD_LIMIT = 1000


def field_type(value: str) -> str:
    """Loki's guess, in its order: Go's ParseInt, ParseFloat, ParseBool, ParseDuration,
    humanize's ParseBytes."""
    if _INT.match(value):
        return "int"
    if _FLOAT.match(value):
        return "float"
    if value in _BOOL:
        return "boolean"
    if _DURATION.match(value):
        return "duration"
    if _BYTES.match(value):
        return "bytes"
    return "string"


@dataclass(slots=True)
class _Field:
    type: str
    values: set[str] = field(default_factory=set)
    parsers: set[str] = field(default_factory=set)


def _parsed(line: bytes) -> tuple[str, dict[str, str]]:
    try:
        return "json", _JSON(line)
    except ParserError:
        return "logfmt", _LOGFMT(line)


def _lines(value: object) -> Iterable[str]:
    assert isinstance(value, Streams)
    return (line for stream in value.streams for line in stream.lines)


def detect(value: object) -> dict[str, _Field]:
    fields: dict[str, _Field] = {}
    for line in _lines(value):
        parser, found = _parsed(line.encode())
        for name, text in found.items():
            entry = fields.setdefault(name, _Field(field_type(text)))
            entry.values.add(text)
            entry.parsers.add(parser)
    return fields


def detected_fields(value: object, limit: int) -> dict[str, object]:
    fields = detect(value)
    return {
        "fields": [
            {
                "label": name,
                "type": f.type,
                "cardinality": len(f.values),
                "parsers": sorted(f.parsers),
            }
            for name, f in sorted(fields.items())[:limit]
        ],
        "limit": limit,
    }


def detected_field_values(value: object, name: str, limit: int) -> dict[str, object]:
    found = detect(value).get(name)
    return {"values": sorted(found.values)[:limit] if found is not None else []}
