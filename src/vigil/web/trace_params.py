"""Parameters the Jaeger and Tempo query APIs share: trace ids in hex (Jaeger trims leading
zeros, so shorter ids are padded on the left), Go durations (`minDuration=1.5s`, `100ms`,
`250us`) and tag filters as logfmt (`service.name=shop http.status_code=500`) or Jaeger's JSON
object. Each raises ValueError with a message fit for the API's 400 answer."""

from __future__ import annotations

import re

import orjson

from vigil.logs.logql.labelfilter import go_duration_seconds

_TRACE_ID_DIGITS = 32
_HEX = re.compile(r"[0-9a-fA-F]{1,32}\Z")
_LOGFMT = re.compile(r'\s*([^\s="]+)(?:=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*)))?(?=\s|\Z)')


def parse_trace_id(text: str) -> bytes:
    """16 bytes of 1 to 32 hex digits; a shorter id is a 64-bit or zero-trimmed one."""
    if not _HEX.match(text):
        raise ValueError(f"invalid trace id {text!r}: want 1 to 32 hex digits")
    return bytes.fromhex(text.rjust(_TRACE_ID_DIGITS, "0"))


def parse_duration_ns(text: str, name: str) -> int:
    """A Go duration (`1.5s`, `100ms`, `250us`, `1h2m`) in nanoseconds, never negative."""
    try:
        seconds = go_duration_seconds(text)
    except ValueError:
        raise ValueError(
            f"invalid {name} {text!r}: want a duration such as 100ms or 1.5s"
        ) from None
    if seconds < 0:
        raise ValueError(f"invalid {name} {text!r}: a duration cannot be negative")
    return round(seconds * 1e9)


def logfmt_tags(text: str) -> tuple[tuple[str, str], ...]:
    """`k=v k2="a b"` as (key, value) pairs; a bare key has the empty value."""
    pairs: list[tuple[str, str]] = []
    at = 0
    body = text.rstrip()
    while at < len(body):
        found = _LOGFMT.match(body, at)
        if found is None:
            raise ValueError(f"invalid tags {text!r}: logfmt syntax error at position {at + 1}")
        quoted, bare = found.group(2), found.group(3)
        value = bare or ""
        if quoted is not None:
            value = orjson.loads(f'"{quoted}"'.encode())
        pairs.append((found.group(1), value))
        at = found.end()
    return tuple(pairs)


def json_or_logfmt_tags(text: str) -> tuple[tuple[str, str], ...]:
    """Jaeger's `tags` parameter: a JSON object of strings (`{"error":"true"}`), or logfmt."""
    if not text.lstrip().startswith("{"):
        return logfmt_tags(text)
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise ValueError(f"malformed 'tags' parameter: {err}") from None
    return tuple(
        (str(k), v if isinstance(v, str) else orjson.dumps(v).decode()) for k, v in parsed.items()
    )
