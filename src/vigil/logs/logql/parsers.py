"""The parser stages (`json`, `logfmt`, `regexp`, `pattern`, `unpack`): each reads one line
and answers the labels it found, or raises `ParserError` with Loki's error name."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import re2

from vigil.logs.logql import ast
from vigil.logs.logql.pattern import Pattern

_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_PATH_PART = re.compile(r'\.?([^.\[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


class ParserError(Exception):
    """A line a parser stage cannot read: `name` is Loki's `__error__` value."""

    def __init__(self, name: str, details: str) -> None:
        super().__init__(details)
        self.name, self.details = name, details


def sanitize(key: str) -> str:
    """Loki's label name for a parsed key: invalid characters become `_`."""
    name = _LABEL_CHAR.sub("_", key)
    return "_" + name if name[:1].isdigit() else name


def _raw(text: str) -> str:
    return text


def _load(line: bytes) -> Any:
    try:
        return json.loads(line, parse_float=_raw, parse_int=_raw, parse_constant=_raw)
    except (ValueError, RecursionError) as err:
        raise ParserError("JSONParserErr", f"{type(err).__name__}: {err}") from None


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return None


def _flatten(obj: dict[str, Any], prefix: str, out: dict[str, str]) -> None:
    for key, value in obj.items():
        name = prefix + sanitize(key)
        if isinstance(value, dict):
            _flatten(value, name + "_", out)
        elif (text := _scalar(value)) is not None:
            out[name] = text


def json_path(expression: str) -> list[str | int]:
    path: list[str | int] = []
    at = 0
    while at < len(expression):
        found = _PATH_PART.match(expression, at)
        if found is None or found.end() == at:
            raise ValueError(f"invalid json expression {expression!r}")
        name, index, quoted = found.groups()
        if index is not None:
            path.append(int(index))
        else:
            path.append(name if name is not None else json.loads(f'"{quoted}"'))
        at = found.end()
    return path


def _lookup(obj: Any, path: list[str | int]) -> str:
    for part in path:
        in_list = isinstance(part, int) and isinstance(obj, list) and part < len(obj)
        if not in_list and not (isinstance(part, str) and isinstance(obj, dict) and part in obj):
            return ""
        obj = obj[part]
    if isinstance(obj, dict | list):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    text = _scalar(obj)
    return "" if text is None and obj is None else (text if text is not None else str(obj))


LineParser = Callable[[bytes], dict[str, str]]


def json_parser(stage: ast.JsonParser) -> LineParser:
    if stage.extractions:
        paths = [
            (e.name, json_path(e.expression if e.expression is not None else e.name))
            for e in stage.extractions
        ]

        def extract(line: bytes) -> dict[str, str]:
            obj = _load(line)
            return {name: _lookup(obj, path) for name, path in paths}

        return extract

    def parse(line: bytes) -> dict[str, str]:
        obj = _load(line)
        if not isinstance(obj, dict):
            raise ParserError("JSONParserErr", "Value looks like a JSON value, not an object")
        out: dict[str, str] = {}
        _flatten(obj, "", out)
        return out

    return parse


def unpack(line: bytes) -> dict[str, str]:
    """`unpack`: a JSON object of strings (what Promtail's `pack` wrote); `_entry` is the line,
    answered under the key `_entry`."""
    obj = _load(line)
    if not isinstance(obj, dict):
        raise ParserError("JSONParserErr", "Value looks like a JSON value, not an object")
    return {
        (key if key == "_entry" else sanitize(key)): value
        for key, value in obj.items()
        if isinstance(value, str)
    }


_LOGFMT_KEY = re.compile(rb'[^\s="]+')
_LOGFMT_BARE = re.compile(rb'[^\s"=]*')
_LOGFMT_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"')


def _logfmt_pairs(line: bytes, strict: bool) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    pos, end = 0, len(line)
    while pos < end:
        if line[pos : pos + 1].isspace():
            pos += 1
            continue
        key = _LOGFMT_KEY.match(line, pos)
        if key is None:
            if strict:
                raise ParserError("LogfmtParserErr", f"logfmt syntax error at pos {pos + 1}")
            pos += 1
            continue
        pos = key.end()
        name = key.group().decode("utf-8", "replace")
        if line[pos : pos + 1] != b"=":
            pairs.append((name, ""))
            continue
        pos += 1
        quoted = _LOGFMT_QUOTED.match(line, pos)
        if quoted:
            try:
                value = json.loads(b'"' + quoted.group(1) + b'"')
            except ValueError:
                value = quoted.group(1).decode("utf-8", "replace")
            pos = quoted.end()
        else:
            bare = _LOGFMT_BARE.match(line, pos)
            assert bare is not None
            value = bare.group().decode("utf-8", "replace")
            pos = bare.end()
        if pos < end and not line[pos : pos + 1].isspace():
            if strict:
                raise ParserError("LogfmtParserErr", f"logfmt syntax error at pos {pos + 1}")
            while pos < end and not line[pos : pos + 1].isspace():
                pos += 1
        pairs.append((name, value))
    return pairs


def logfmt_parser(stage: ast.LogfmtParser) -> LineParser:
    wanted = {(e.expression or e.name): e.name for e in stage.extractions}

    def parse(line: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in _logfmt_pairs(line, stage.strict):
            if not value and not stage.keep_empty:
                continue
            if wanted:
                if key in wanted:
                    out[wanted[key]] = value
            else:
                out[sanitize(key)] = value
        return out

    return parse


def regexp_parser(stage: ast.RegexpParser) -> LineParser:
    options = re2.Options()
    options.log_errors = False
    regex = re2.compile(stage.pattern, options)

    def parse(line: bytes) -> dict[str, str]:
        found = regex.search(line.decode("utf-8", "replace"))
        if found is None:
            return {}
        return {name: value or "" for name, value in found.groupdict().items()}

    return parse


def pattern_parser(stage: ast.PatternParser) -> LineParser:
    pattern = Pattern(stage.pattern)

    def parse(line: bytes) -> dict[str, str]:
        return pattern.extract(line) or {}

    return parse


def line_parser(stage: ast.Stage) -> LineParser | None:
    """The parser of a parser stage, None for other stages."""
    match stage:
        case ast.JsonParser():
            return json_parser(stage)
        case ast.LogfmtParser():
            return logfmt_parser(stage)
        case ast.RegexpParser():
            return regexp_parser(stage)
        case ast.PatternParser():
            return pattern_parser(stage)
        case ast.UnpackParser():
            return unpack
    return None
