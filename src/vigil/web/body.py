"""Reading a request body under a size cap: a body is refused as soon as it is known to be too
large (its Content-Length, or the bytes streamed so far), never after buffering all of it.
JSON bodies are also bounded in nesting depth, and read as Go reads them."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.requests import Request

MAX_JSON_DEPTH = 1024  # orjson's own bound; Go's encoding/json allows 10000
_SURROGATES = frozenset(chr(code) for code in range(0xD800, 0xE000))


class JSONBodyError(ValueError):
    """A JSON body refused: `status` 413 when too large, 400 when not JSON or nested too deep;
    `reason` in Go's encoding/json wording where it has one."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The request's body, or None when it has more than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    """The request's body parsed as JSON; JSONBodyError if larger than `limit` bytes, not
    JSON, or nested deeper than MAX_JSON_DEPTH. An empty body is None."""
    raw = await read_capped(request, limit)
    if raw is None:
        raise JSONBodyError(f"request body is larger than {limit} bytes", 413)
    if not raw.strip():
        return None
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    """JSON as Go's encoding/json reads it: invalid UTF-8 and lone surrogate escapes (`\\ud800`)
    become U+FFFD instead of failing; nesting deeper than MAX_JSON_DEPTH is refused."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if "recursion" in str(err):
            raise JSONBodyError("exceeded max depth") from None
    # orjson refuses what Go repairs; the standard parser takes it, depth still bounded.
    try:
        value = json.loads(raw.decode("utf-8", "replace"))
    except RecursionError:
        raise JSONBodyError("exceeded max depth") from None
    except ValueError as err:
        raise JSONBodyError(_go_reason(err)) from None
    return _without_surrogates(value)


def _go_reason(err: ValueError) -> str:
    if isinstance(err, json.JSONDecodeError):
        if err.pos >= len(err.doc):
            return "unexpected end of JSON input"
        if err.msg == "Expecting value":
            return f"invalid character {err.doc[err.pos]!r} looking for beginning of value"
        return f"{err.msg} at line {err.lineno} column {err.colno}"
    return str(err)


def _clean(text: str) -> str:
    if text.isascii() or _SURROGATES.isdisjoint(text):
        return text
    return "".join("\ufffd" if char in _SURROGATES else char for char in text)


def _without_surrogates(value: Any) -> Any:
    """Lone surrogates (which no UTF-8 can carry) replaced by U+FFFD in every key and string;
    iterative, so a deep document cannot overflow the stack here either."""
    if isinstance(value, str):
        return _clean(value)
    if not isinstance(value, (list, dict)):
        return value
    root: list[Any] = [value]
    stack: list[Any] = [root]
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            for index, item in enumerate(container):
                if isinstance(item, str):
                    container[index] = _clean(item)
                elif isinstance(item, (list, dict)):
                    stack.append(item)
        else:
            for key in list(container):
                item = container.pop(key)
                if isinstance(item, str):
                    item = _clean(item)
                elif isinstance(item, (list, dict)):
                    stack.append(item)
                container[_clean(key)] = item
    return root[0]
