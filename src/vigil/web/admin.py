"""Prometheus's TSDB admin API (`/api/v1/admin/tsdb/*`), behind `--web.enable-admin-api`.

Disabled, every admin route answers as Prometheus 2.42 does (HTTP 500, errorType
`unavailable`, "admin APIs disabled"). Enabled, `snapshot` works; `delete_series` and
`clean_tombstones` answer 501 `unavailable`: vigil's TSDB cannot delete series yet, and a
success that deleted nothing would be a lie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.web.api import APIError, failure, success

_METHODS = ["POST", "PUT"]
_PREFIX = "/api/v1/admin/tsdb"
# Go's strconv.ParseBool
_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def _error(status: int, error_type: str, message: str) -> Response:
    body = {"status": "error", "errorType": error_type, "error": message}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class AdminAPI:
    """`snapshot(with_head)` writes a snapshot and returns its name (it may block: it runs in a
    worker thread)."""

    def __init__(self, enabled: bool, snapshot: Callable[[bool], str]) -> None:
        self.enabled = enabled
        self._snapshot = snapshot

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{_PREFIX}/snapshot", self._gate(self.snapshot), methods=_METHODS),
            Route(f"{_PREFIX}/delete_series", self._gate(self.delete_series), methods=_METHODS),
            Route(
                f"{_PREFIX}/clean_tombstones", self._gate(self.clean_tombstones), methods=_METHODS
            ),
        ]

    def _gate(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self.enabled:
                return _error(500, "unavailable", "admin APIs disabled")
            try:
                return await handler(request)
            except APIError as err:
                return failure(err)

        return endpoint

    async def snapshot(self, request: Request) -> Response:
        values = await _form_values(request, "skip_head")
        text = values[0] if values else ""
        skip_head = _BOOLS.get(text) if text else False
        if skip_head is None:
            raise APIError(
                "bad_data",
                f'invalid parameter "skip_head": unable to parse boolean: {text!r} '
                "(expected true or false)",
            )
        name = await run_in_threadpool(self._snapshot, not skip_head)
        return success({"name": name})

    async def delete_series(self, request: Request) -> Response:
        if not await _form_values(request, "match[]"):
            raise APIError("bad_data", "no match[] parameter provided")
        return _error(501, "unavailable", "vigil's TSDB does not support deleting series yet")

    async def clean_tombstones(self, _: Request) -> Response:
        return _error(
            501,
            "unavailable",
            "vigil's TSDB does not support deleting series yet, so it has no tombstones to clean",
        )


async def _form_values(request: Request, name: str) -> list[str]:
    """A parameter's values from the query string and a urlencoded or multipart body."""
    values = request.query_params.getlist(name)
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        values += [v for v in form.getlist(name) if isinstance(v, str)]
    return values
