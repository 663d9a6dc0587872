"""read_capped: a body over the cap is refused whether its size is declared or only seen while
streaming; one at the cap is read whole."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from vigil.web.body import JSONBodyError, parse_json, read_capped, read_json

LIMIT = 10


async def echo(request: Request) -> PlainTextResponse:
    body = await read_capped(request, LIMIT)
    if body is None:
        return PlainTextResponse("too large", status_code=400)
    return PlainTextResponse(body)


def _chunks(data: bytes) -> Iterator[bytes]:
    """A body sent chunked, with no Content-Length."""
    for i in range(0, len(data), 3):
        yield data[i : i + 3]


CASES = [
    ("empty", b"", False, (200, "")),
    ("at the cap", b"x" * LIMIT, False, (200, "x" * LIMIT)),
    ("over the cap, declared", b"x" * (LIMIT + 1), False, (400, "too large")),
    ("at the cap, streamed", b"y" * LIMIT, True, (200, "y" * LIMIT)),
    ("over the cap, streamed", b"y" * (LIMIT + 1), True, (400, "too large")),
]


@pytest.mark.parametrize(("name", "data", "chunked", "want"), CASES, ids=[c[0] for c in CASES])
def test_read_capped(name: str, data: bytes, chunked: bool, want: tuple[int, str]) -> None:
    client = TestClient(Starlette(routes=[Route("/", echo, methods=["POST"])]))
    response = client.post("/", content=_chunks(data) if chunked else data)
    assert (response.status_code, response.text) == want


JSON_CASES = [
    (b'{"a": [1, "b"]}', {"a": [1, "b"]}),
    (b'"x\\ud800y"', "x\ufffdy"),  # Go turns a lone surrogate escape into U+FFFD
    (b'{"\\udc00": ["\\ud83d\\ude00", {"k": "\\ud800"}]}', {"\ufffd": ["😀", {"k": "\ufffd"}]}),
    (b'"\xff"', "\ufffd"),  # so is invalid UTF-8
]


@pytest.mark.parametrize(("raw", "want"), JSON_CASES)
def test_json_is_read_as_go_reads_it(raw: bytes, want: object) -> None:
    assert parse_json(raw) == want


REFUSED = [
    (b"[" * 100_000 + b"]" * 100_000, "exceeded max depth"),
    (b'{"a": "\\ud800", "b": ' + b"[" * 5000 + b"]" * 5000 + b"}", "exceeded max depth"),
    (b"{", "unexpected end of JSON input"),
    (b"nope", "invalid character 'n' looking for beginning of value"),
]


@pytest.mark.parametrize(("raw", "reason"), REFUSED)
def test_json_too_deep_or_broken_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(JSONBodyError) as caught:
        parse_json(raw)
    assert (caught.value.reason, caught.value.status) == (reason, 400)


async def echo_json(request: Request) -> JSONResponse:
    try:
        return JSONResponse(await read_json(request, LIMIT))
    except JSONBodyError as err:
        return JSONResponse(err.reason, status_code=err.status)


def test_read_json_caps_the_body_before_parsing() -> None:
    client = TestClient(Starlette(routes=[Route("/", echo_json, methods=["POST"])]))
    assert client.post("/", content=b'["abc"]').json() == ["abc"]
    too_large = client.post("/", content=b'["' + b"a" * LIMIT + b'"]')
    assert (too_large.status_code, too_large.json()) == (
        413,
        f"request body is larger than {LIMIT} bytes",
    )
    assert client.post("/", content=b"").json() is None
