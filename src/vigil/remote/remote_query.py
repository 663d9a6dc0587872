"""PromQL evaluated by an external Prometheus-compatible HTTP API (`--query.remote-url`).

VictoriaMetrics, Mimir, Thanos Query and Prometheus all answer `/api/v1/query` and
`/api/v1/query_range` in Prometheus's JSON envelope. `RemoteEngine` speaks that API and
hands back vigil's own value types, so the rule engine and vigil's HTTP API run unchanged
on data that lives in a cluster. Every failure becomes a `PromQLError` whose message names
the remote URL and the reason: a rule turns `health: err` with it, the API answers it in
Prometheus's error envelope.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np

from vigil.model import Labels
from vigil.promql.errors import InvalidQueryError, PromQLError, QueryError, QueryTimeoutError
from vigil.promql.value import (
    Matrix,
    QueryResult,
    QueryValue,
    Sample,
    Scalar,
    Series,
    String,
    Vector,
)

_BODY_SHOWN = 200  # characters of a non-API answer quoted in the error


class RemoteQueryError(QueryError):
    """The remote engine could not be asked, or answered something that is not the API."""


class RemoteBadDataError(InvalidQueryError):
    """The remote engine refused the query as the client's mistake (its `bad_data`)."""


class RemoteTimeoutError(QueryTimeoutError):
    """The remote engine did not answer in time, or reported its own query timeout."""

    def __init__(self, message: str) -> None:
        PromQLError.__init__(self, message)


class RemoteEngine:
    """A `QueryEngine` over `{url}/api/v1/query[_range]`; thread-safe (queries run in worker
    threads, one shared connection pool)."""

    in_process = False

    def __init__(
        self,
        url: str,
        timeout_s: float = 120.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        """`timeout_s` bounds each request and is passed on as the query's own `timeout`;
        `client` is for tests (a mock transport)."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            headers=dict(headers or {}),
        )

    def instant_query(
        self, query: str, t_ms: int, *, timeout_s: float | None = None, queued_s: float = 0.0
    ) -> QueryResult:
        params = {"query": query, "time": _seconds(t_ms)}
        return self._ask("/api/v1/query", params, self._budget(timeout_s, queued_s))

    def range_query(
        self,
        query: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        timeout_s: float | None = None,
        queued_s: float = 0.0,
    ) -> QueryResult:
        params = {
            "query": query,
            "start": _seconds(start_ms),
            "end": _seconds(end_ms),
            "step": _seconds(step_ms),
        }
        return self._ask("/api/v1/query_range", params, self._budget(timeout_s, queued_s))

    def _budget(self, timeout_s: float | None, queued_s: float) -> float:
        """The remote query's own `timeout`: this engine's, or the caller's if tighter, less
        the time already spent queued (at least a millisecond: the remote answers 503)."""
        limit = self.timeout_s if timeout_s is None else min(self.timeout_s, timeout_s)
        return limit - queued_s

    def close(self) -> None:
        self._client.close()

    def _ask(self, path: str, params: dict[str, str], timeout_s: float) -> QueryResult:
        where = f"remote query engine {self.url}"
        ms = max(1, round(timeout_s * 1000))
        params["timeout"] = f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
        try:
            response = self._client.post(self.url + path, data=params)
        except httpx.TimeoutException as err:
            raise RemoteTimeoutError(
                f"{where}: no answer within {self.timeout_s:g}s ({type(err).__name__})"
            ) from None
        except httpx.HTTPError as err:
            raise RemoteQueryError(f"{where}: {err or type(err).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            text = response.text[:_BODY_SHOWN].strip()
            raise RemoteQueryError(
                f"{where}: HTTP {response.status_code} from {path} is not Prometheus's API "
                f"envelope: {text!r}"
            )
        if body["status"] == "error":
            raise _remote_error(where, str(body.get("errorType", "")), str(body.get("error", "")))
        try:
            value = _value(body["data"])
        except KeyError as err:
            raise RemoteQueryError(f"{where}: malformed query result: no {err} field") from None
        except (TypeError, ValueError, IndexError) as err:
            raise RemoteQueryError(f"{where}: malformed query result: {err}") from None
        return QueryResult(value, _strings(body.get("warnings")), _strings(body.get("infos")))


def _remote_error(where: str, error_type: str, message: str) -> PromQLError:
    text = f"{where}: {message}"
    if error_type == "bad_data":
        return RemoteBadDataError(text)
    if error_type == "timeout":
        return RemoteTimeoutError(text)
    return RemoteQueryError(f"{text} ({error_type or 'no errorType'})")


def _seconds(t_ms: int) -> str:
    """Milliseconds as the API's float seconds, exactly (no binary float in between)."""
    sign = "-" if t_ms < 0 else ""
    whole, frac = divmod(abs(t_ms), 1000)
    return f"{sign}{whole}.{frac:03d}" if frac else f"{sign}{whole}"


def _ms(seconds: float | str) -> int:
    return round(float(seconds) * 1000)


def _float(text: str) -> float:
    """The API's sample value: Go's float text (`NaN`, `+Inf`, `-Inf`, `1e-07`, ...)."""
    value = float(text)
    if math.isnan(value) and text != "NaN":
        raise ValueError(f"sample value {text!r}")
    return value


def _strings(items: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in items) if isinstance(items, list) else ()


def _labels(metric: Mapping[str, str]) -> Labels:
    return Labels.from_dict({str(k): str(v) for k, v in metric.items()})


def _no_histograms(item: Mapping[str, Any]) -> None:
    if "histogram" in item or "histograms" in item:
        raise ValueError("native histogram samples are not supported by vigil's engine yet")


def _value(data: Mapping[str, Any]) -> QueryValue:
    kind, result = data["resultType"], data["result"]
    if kind == "scalar":
        return Scalar(_ms(result[0]), _float(result[1]))
    if kind == "string":
        return String(_ms(result[0]), str(result[1]))
    if kind == "vector":
        samples: list[Sample] = []
        for item in result:
            _no_histograms(item)
            t, v = item["value"]
            samples.append(Sample(_labels(item["metric"]), _ms(t), _float(v)))
        return Vector(tuple(samples))
    if kind == "matrix":
        return Matrix(tuple(_series(item) for item in result))
    raise ValueError(f"unknown resultType {kind!r}")


def _series(item: Mapping[str, Any]) -> Series:
    _no_histograms(item)
    points: Sequence[Sequence[Any]] = item.get("values", [])
    n = len(points)
    seconds = np.fromiter((p[0] for p in points), dtype=np.float64, count=n)
    values = np.fromiter((_float(p[1]) for p in points), dtype=np.float64, count=n)
    return Series(_labels(item["metric"]), np.rint(seconds * 1000).astype(np.int64), values)
