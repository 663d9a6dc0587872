"""Prometheus's HTTP API (`/api/v1/*`): the JSON envelope, error types, status codes and
value formatting that Grafana's Prometheus datasource and `promtool query` rely on.

Thin by design: it parses parameters, calls the engine or a Querier, renders the result.
Queries run in a worker thread so a long one never blocks scraping on the event loop.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

import vigil
from vigil.model import Labels, Matcher
from vigil.promql.ast_json import parse_query_ast
from vigil.promql.engine import Engine, Queryable
from vigil.promql.errors import (
    InvalidQueryError,
    ParseError,
    PromQLError,
    QueryTimeoutError,
    UnsupportedFeatureError,
)
from vigil.promql.value import Matrix, QueryValue, Scalar, String, Vector

MIN_TIME_MS = -(2**63) // 1000 * 1000  # Prometheus's minTime, rounded to ms
MAX_TIME_MS = (2**63 - 1) // 1000 * 1000
_FAR_TIME_MS = 2**62
MAX_POINTS = 11_000


class APIError(Exception):
    """An error the API reports in Prometheus's envelope: its type decides the HTTP code."""

    STATUS: ClassVar[dict[str, int]] = {
        "bad_data": 400,
        "execution": 422,
        "canceled": 503,
        "timeout": 503,
        "internal": 500,
        "not_found": 404,
        "unavailable": 503,
    }

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(slots=True)
class APIContext:
    """What the API reads from the rest of the process; each piece is passed in by app.py."""

    engine: Engine
    queryable: Queryable
    clock: Callable[[], float] = time.time
    flags: Mapping[str, str] = field(default_factory=dict)
    config_yaml: Callable[[], str] = lambda: ""
    tsdb_stats: Callable[[], Mapping[str, Any]] = lambda: {}
    metadata: Callable[[], Mapping[str, list[dict[str, str]]]] = lambda: {}
    ready: Callable[[], bool] = lambda: True
    runtime: Callable[[], Mapping[str, Any]] = lambda: {}
    max_concurrency: int = 20  # --query.max-concurrency: more queries wait their turn


# --- formatting -------------------------------------------------------------------------


def format_sample_value(value: float) -> str:
    """Prometheus's `jsonutil.MarshalFloat`: shortest digits, `strconv.FormatFloat` 'f' but 'e'
    below 1e-6 and from 1e21 on (where Python's repr is the same as Go's: `1e-07`, `1e+21`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value and not 1e-6 <= abs(value) < 1e21:
        return repr(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value)) if value or math.copysign(1, value) > 0 else "-0"
    return str(np.format_float_positional(value, trim="-"))


def _seconds(t_ms: int) -> float | int:
    return t_ms // 1000 if t_ms % 1000 == 0 else t_ms / 1000


def render_value(value: QueryValue) -> dict[str, Any]:
    if isinstance(value, Scalar):
        return {
            "resultType": "scalar",
            "result": [_seconds(value.t_ms), format_sample_value(value.value)],
        }
    if isinstance(value, String):
        return {"resultType": "string", "result": [_seconds(value.t_ms), value.value]}
    if isinstance(value, Vector):
        return {
            "resultType": "vector",
            "result": [
                {
                    "metric": dict(s.labels),
                    "value": [_seconds(s.t_ms), format_sample_value(s.value)],
                }
                for s in value.samples
            ],
        }
    assert isinstance(value, Matrix)
    return {
        "resultType": "matrix",
        "result": [
            {
                "metric": dict(series.labels),
                "values": [
                    [_seconds(int(t)), format_sample_value(float(v))]
                    for t, v in zip(series.timestamps.tolist(), series.values.tolist(), strict=True)
                ],
            }
            for series in value.series
        ],
    }


def success(data: Any, warnings: Sequence[str] = (), infos: Sequence[str] = ()) -> JSONResponse:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = list(warnings)
    if infos:
        body["infos"] = list(infos)
    return JSONResponse(body)


def failure(err: APIError) -> JSONResponse:
    return JSONResponse(
        {"status": "error", "errorType": err.error_type, "error": err.message},
        status_code=APIError.STATUS.get(err.error_type, 500),
    )


# --- parameters -------------------------------------------------------------------------


def parse_time(text: str, name: str) -> int:
    """A Unix timestamp (float seconds) or RFC 3339 time, to milliseconds."""
    bad = APIError(
        "bad_data", f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
    )
    try:
        seconds = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise bad from None
        if parsed.tzinfo is None:
            raise bad from None
        return round(parsed.timestamp() * 1000)
    if not math.isfinite(seconds):
        raise bad
    # Prometheus answers far-off times (an empty result) rather than refusing them; clamped,
    # they stay clear of int64 overflow in the engine's arithmetic.
    return max(-_FAR_TIME_MS, min(_FAR_TIME_MS, round(seconds * 1000)))


_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}


def parse_duration(text: str, name: str) -> int:
    """Float seconds or a Prometheus duration (`1m30s`), to milliseconds."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or abs(seconds) > 2**62 / 1000:
            raise APIError(
                "bad_data",
                f'invalid parameter "{name}": cannot parse "{text}" to a valid duration. It overflows int64',
            )
        return round(seconds * 1000)
    total, rest = 0, text
    for number, unit in re.findall(r"(\d+)(ms|[smhdwy])", text):
        total += int(number) * _UNITS_MS[unit]
        rest = rest.replace(number + unit, "", 1)
    if rest or not text:
        raise APIError(
            "bad_data", f'invalid parameter "{name}": cannot parse "{text}" to a valid duration'
        )
    return total


async def _params(request: Request) -> dict[str, list[str]]:
    """Query string and (for POST) form parameters, each name with all its values."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method == "POST":
        form = await request.form()
        for key, field_value in form.multi_items():
            if isinstance(field_value, str):
                params.setdefault(key, []).append(field_value)
    return params


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _check_timeout(params: Mapping[str, list[str]]) -> None:
    """A query's own `timeout` must parse (the server's --query.timeout still bounds it)."""
    text = _one(params, "timeout")
    if text:
        parse_duration(text, "timeout")


def _matchers_of(selectors: Sequence[str]) -> list[list[Matcher]]:
    """`match[]` selectors to matcher sets (one per selector and per `or` alternative)."""
    from vigil.promql import ast
    from vigil.promql.parser import parse

    out: list[list[Matcher]] = []
    for text in selectors:
        try:
            node = parse(text)
        except PromQLError as err:
            raise APIError("bad_data", f'invalid parameter "match[]": {err}') from None
        if not isinstance(node, ast.VectorSelector):
            raise APIError(
                "bad_data", f'invalid parameter "match[]": {text!r} is not a series selector'
            )
        out.extend(list(group) for group in node.matcher_groups)
    return out


# --- handlers ---------------------------------------------------------------------------


class PrometheusAPI:
    """The `/api/v1` routes over one APIContext."""

    def __init__(self, ctx: APIContext) -> None:
        self.ctx = ctx
        self._slots = asyncio.Semaphore(max(1, ctx.max_concurrency))

    def routes(self) -> list[BaseRoute]:
        both = ["GET", "POST"]
        return [
            Route("/api/v1/query", self._wrap(self.query), methods=both),
            Route("/api/v1/query_range", self._wrap(self.query_range), methods=both),
            Route("/api/v1/series", self._wrap(self.series), methods=both),
            Route("/api/v1/labels", self._wrap(self.labels), methods=both),
            Route("/api/v1/label/{name}/values", self._wrap(self.label_values), methods=["GET"]),
            Route("/api/v1/metadata", self._wrap(self.metadata), methods=["GET"]),
            Route("/api/v1/query_exemplars", self._wrap(self.exemplars), methods=both),
            Route("/api/v1/format_query", self._wrap(self.format_query), methods=both),
            Route("/api/v1/parse_query", self._wrap(self.parse_query), methods=both),
            Route("/api/v1/status/buildinfo", self._wrap(self.buildinfo), methods=["GET"]),
            Route("/api/v1/status/runtimeinfo", self._wrap(self.runtimeinfo), methods=["GET"]),
            Route("/api/v1/status/config", self._wrap(self.status_config), methods=["GET"]),
            Route("/api/v1/status/flags", self._wrap(self.flags), methods=["GET"]),
            Route("/api/v1/status/tsdb", self._wrap(self.status_tsdb), methods=["GET"]),
            Route("/-/healthy", self.healthy, methods=["GET", "HEAD"]),
            Route("/-/ready", self.ready_check, methods=["GET", "HEAD"]),
        ]

    @staticmethod
    def _wrap(
        handler: Callable[[dict[str, list[str]], Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(await _params(request), request)
            except APIError as err:
                return failure(err)

        return endpoint

    def _now_ms(self) -> int:
        return round(self.ctx.clock() * 1000)

    async def _run(self, fn: Callable[[], Any]) -> Any:
        try:
            async with self._slots:
                return await run_in_threadpool(fn)
        except (ParseError, InvalidQueryError) as err:
            raise APIError("bad_data", str(err)) from None
        except UnsupportedFeatureError as err:
            raise APIError("bad_data", str(err)) from None
        except QueryTimeoutError as err:
            raise APIError("timeout", str(err)) from None
        except PromQLError as err:
            raise APIError("execution", str(err)) from None

    async def query(self, params: dict[str, list[str]], _: Request) -> Response:
        _check_timeout(params)
        text = _one(params, "query")
        if text is None:
            raise APIError("bad_data", 'invalid parameter "query": query must not be empty')
        when = _one(params, "time")
        t_ms = parse_time(when, "time") if when else self._now_ms()
        result = await self._run(lambda: self.ctx.engine.instant_query(text, t_ms))
        return success(render_value(result.value), result.warnings, result.infos)

    async def query_range(self, params: dict[str, list[str]], _: Request) -> Response:
        _check_timeout(params)
        text = _one(params, "query")
        start_text, end_text, step_text = (_one(params, n) for n in ("start", "end", "step"))
        if start_text is None:
            raise APIError(
                "bad_data", 'invalid parameter "start": cannot parse "" to a valid timestamp'
            )
        if end_text is None:
            raise APIError(
                "bad_data", 'invalid parameter "end": cannot parse "" to a valid timestamp'
            )
        start, end = parse_time(start_text, "start"), parse_time(end_text, "end")
        if end < start:
            raise APIError(
                "bad_data", 'invalid parameter "end": end timestamp must not be before start time'
            )
        if step_text is None:
            raise APIError(
                "bad_data", 'invalid parameter "step": cannot parse "" to a valid duration'
            )
        step = parse_duration(step_text, "step")
        if step <= 0:
            raise APIError(
                "bad_data",
                'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
            )
        if (end - start) // step > MAX_POINTS:
            raise APIError(
                "bad_data",
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            )
        if not text:
            raise APIError("bad_data", 'invalid parameter "query": query must not be empty')
        result = await self._run(lambda: self.ctx.engine.range_query(text, start, end, step))
        return success(render_value(result.value), result.warnings, result.infos)

    def _range(self, params: Mapping[str, list[str]]) -> tuple[int, int]:
        start_text, end_text = _one(params, "start"), _one(params, "end")
        start = parse_time(start_text, "start") if start_text else MIN_TIME_MS
        end = parse_time(end_text, "end") if end_text else MAX_TIME_MS
        if end < start:
            raise APIError(
                "bad_data", 'invalid parameter "end": end timestamp must not be before start time'
            )
        return start, end

    def _limit(self, params: Mapping[str, list[str]]) -> int | None:
        text = _one(params, "limit")
        if not text:
            return None
        if not text.isdigit():
            raise APIError(
                "bad_data",
                f'invalid parameter "limit": cannot parse "{text}" as a positive integer',
            )
        return int(text) or None

    async def series(self, params: dict[str, list[str]], _: Request) -> Response:
        selectors = params.get("match[]", [])
        if not selectors:
            raise APIError("bad_data", "no match[] parameter provided")
        matcher_sets = _matchers_of(selectors)
        start, end = self._range(params)
        limit = self._limit(params)

        def run() -> list[dict[str, str]]:
            querier = self.ctx.queryable(start, end)
            try:
                found: dict[Labels, None] = {}
                for matchers in matcher_sets:
                    found.update(dict.fromkeys(querier.series(matchers)))
            finally:
                querier.close()
            ordered = sorted(found)
            return [dict(labels) for labels in (ordered[:limit] if limit else ordered)]

        return success(await run_in_threadpool(run))

    async def labels(self, params: dict[str, list[str]], _: Request) -> Response:
        matcher_sets = _matchers_of(params.get("match[]", []))
        start, end = self._range(params)
        limit = self._limit(params)

        def run() -> list[str]:
            querier = self.ctx.queryable(start, end)
            try:
                names: set[str] = set()
                for matchers in matcher_sets or [[]]:
                    names.update(querier.label_names(matchers))
            finally:
                querier.close()
            ordered = sorted(names)
            return ordered[:limit] if limit else ordered

        return success(await run_in_threadpool(run))

    async def label_values(self, params: dict[str, list[str]], request: Request) -> Response:
        name = request.path_params["name"]
        if name.startswith("U__"):
            name = _unescape_label_name(name)
        matcher_sets = _matchers_of(params.get("match[]", []))
        start, end = self._range(params)
        limit = self._limit(params)

        def run() -> list[str]:
            querier = self.ctx.queryable(start, end)
            try:
                values: set[str] = set()
                for matchers in matcher_sets or [[]]:
                    values.update(querier.label_values(name, matchers))
            finally:
                querier.close()
            ordered = sorted(values)
            return ordered[:limit] if limit else ordered

        return success(await run_in_threadpool(run))

    async def metadata(self, params: dict[str, list[str]], _: Request) -> Response:
        metric = _one(params, "metric")
        limit = self._limit(params)
        found = dict(self.ctx.metadata())
        if metric:
            found = {metric: found[metric]} if metric in found else {}
        if limit:
            found = dict(list(found.items())[:limit])
        return success(found)

    async def exemplars(self, params: dict[str, list[str]], _: Request) -> Response:
        return success([])

    async def format_query(self, params: dict[str, list[str]], _: Request) -> Response:
        import promql_parser

        text = _one(params, "query") or ""
        try:
            return success(promql_parser.parse(text).prettify())
        except ValueError as err:
            raise APIError("bad_data", f'invalid parameter "query": {err}') from None

    async def parse_query(self, params: dict[str, list[str]], _: Request) -> Response:
        text = _one(params, "query") or ""
        try:
            return success(parse_query_ast(text))
        except (ParseError, UnsupportedFeatureError) as err:
            raise APIError("bad_data", f'invalid parameter "query": {err}') from None

    async def buildinfo(self, params: dict[str, list[str]], _: Request) -> Response:
        import platform

        return success(
            {
                "version": vigil.__version__,
                "revision": "",
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": f"python{platform.python_version()}",
            }
        )

    async def runtimeinfo(self, params: dict[str, list[str]], _: Request) -> Response:
        return success(dict(self.ctx.runtime()))

    async def status_config(self, params: dict[str, list[str]], _: Request) -> Response:
        return success({"yaml": self.ctx.config_yaml()})

    async def flags(self, params: dict[str, list[str]], _: Request) -> Response:
        return success(dict(self.ctx.flags))

    async def status_tsdb(self, params: dict[str, list[str]], _: Request) -> Response:
        return success(dict(self.ctx.tsdb_stats()))

    async def healthy(self, _: Request) -> Response:
        return PlainTextResponse("vigil is Healthy.\n")

    async def ready_check(self, _: Request) -> Response:
        if self.ctx.ready():
            return PlainTextResponse("vigil is Ready.\n")
        return PlainTextResponse("Service Unavailable", status_code=503)


def _unescape_label_name(name: str) -> str:
    """Prometheus 3's `U__` escaping of UTF-8 label names in URL paths (`U__a_2e_b` → `a.b`)."""
    body = name[3:]
    return re.sub(r"_([0-9a-fA-F]+)_", lambda m: chr(int(m.group(1), 16)), body)
