"""read_capped: a body over the cap is refused whether its size is declared or only seen while
streaming; one at the cap is read whole."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from vigil.web.body import read_capped

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
