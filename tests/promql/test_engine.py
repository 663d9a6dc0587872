"""Engine behaviour not covered by the upstream scripts: limits, parse errors, result types."""

from __future__ import annotations

from typing import Any

import pytest

from vigil.model import Labels
from vigil.promql import Engine, EngineOptions, ParseError, TooManySamplesError, Vector
from vigil.promql.errors import QueryCancelledError, QueryTimeoutError, UnsupportedFeatureError
from vigil.tsdb import MemoryStorage


def _storage() -> MemoryStorage:
    storage = MemoryStorage()
    for i in range(3):
        labels = Labels.from_dict({"__name__": "up", "instance": str(i)})
        for t in range(0, 600_000, 15_000):
            storage.add(labels, t, float(i))
    return storage


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("sum(", ParseError),
        ("rate(up[5m] anchored)", UnsupportedFeatureError),
        ("up + fill(0) up", UnsupportedFeatureError),
    ],
)
def test_bad_queries_raise_user_facing_errors(query: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        Engine(_storage().queryable).instant_query(query, 300_000)


def test_max_samples_limit_uses_prometheus_message() -> None:
    engine = Engine(_storage().queryable, EngineOptions(max_samples=2))
    with pytest.raises(TooManySamplesError, match="too many samples"):
        engine.instant_query("up", 300_000)


def test_timeout_hook_fires_between_nodes() -> None:
    ticks = iter(range(100))
    engine = Engine(_storage().queryable, EngineOptions(timeout_s=1.5), clock=lambda: next(ticks))
    with pytest.raises(QueryTimeoutError):
        engine.instant_query("sum(up) + sum(up) + sum(up)", 300_000)


def test_a_shutdown_stops_a_running_query_and_refuses_later_ones() -> None:
    storage = _storage()
    opened: list[tuple[int, int]] = []

    def queryable(mint: int, maxt: int) -> Any:
        opened.append((mint, maxt))
        engine.cancel()  # the shutdown arrives while the query reads storage
        return storage.queryable(mint, maxt)

    engine = Engine(queryable)
    with pytest.raises(QueryCancelledError, match="the server is shutting down"):
        engine.instant_query("sum(up) + sum(up)", 300_000)
    with pytest.raises(QueryCancelledError):
        engine.range_query("vector(1)", 0, 60_000, 15_000)
    assert len(opened) == 1


def test_instant_query_returns_vector() -> None:
    result = Engine(_storage().queryable).instant_query("sum by (instance) (up)", 300_000)
    assert isinstance(result.value, Vector)
    assert sorted((s.labels.get("instance"), s.value) for s in result.value.samples) == [
        ("0", 0.0),
        ("1", 1.0),
        ("2", 2.0),
    ]


@pytest.mark.parametrize(
    ("query", "want"),
    [
        # found by tests/promql/test_prometheus_differential.py against Prometheus
        ("sgn(vector(-0.0))", "-0.0"),
        ("sgn(vector(0))", "0.0"),
        ("deg(vector(22270911.064421))", "1276029209.9025314"),
        ("rad(vector(22270911.064421))", "388700.7254929814"),
    ],
)
def test_elementwise_functions_match_go_bit_for_bit(query: str, want: str) -> None:
    value = Engine(_storage().queryable).instant_query(query, 300_000).value
    assert isinstance(value, Vector)
    assert [repr(s.value) for s in value.samples] == [want]


def test_range_vector_is_refused_for_a_range_query() -> None:
    from vigil.promql import InvalidQueryError

    with pytest.raises(InvalidQueryError, match='invalid expression type "range vector"'):
        Engine(_storage().queryable).range_query("up[5m]", 0, 60_000, 15_000)


class _Ticks:
    """A clock that reads 0, 1, 2, … one second further each time it is asked."""

    def __init__(self) -> None:
        self.now = -1.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def test_time_spent_queued_counts_against_the_timeout() -> None:
    engine = Engine(_storage().queryable, EngineOptions(timeout_s=10))
    with pytest.raises(QueryTimeoutError, match="query timed out in query queue"):
        engine.instant_query("up", 300_000, queued_s=10.5)
    with pytest.raises(QueryTimeoutError, match="query queue"):
        engine.range_query("up", 0, 300_000, 15_000, timeout_s=1, queued_s=1)
    assert engine.instant_query("up", 300_000, timeout_s=1, queued_s=0.5).value


def test_a_callers_tighter_timeout_applies() -> None:
    engine = Engine(_storage().queryable, EngineOptions(timeout_s=100), clock=_Ticks())
    with pytest.raises(QueryTimeoutError, match="expression evaluation"):
        engine.instant_query("sum(up) + sum(up) + sum(up)", 300_000, timeout_s=2.5)


def test_the_deadline_is_checked_inside_window_functions() -> None:
    """Four checks between nodes pass (deadline 4.5 s, one second per check); the per-series
    check inside sum_over_time is the one that fires."""
    engine = Engine(_storage().queryable, EngineOptions(timeout_s=4.5), clock=_Ticks())
    with pytest.raises(QueryTimeoutError):
        engine.instant_query("sum_over_time(up[5m])", 300_000)
    engine = Engine(_storage().queryable, EngineOptions(timeout_s=4.5), clock=_Ticks())
    assert engine.instant_query("count_over_time(up[5m])", 300_000).value


def test_a_query_that_overran_its_deadline_in_one_step_times_out() -> None:
    """Three checks between nodes pass (deadline 3.5 s, one second per check); the result is
    a timeout, not a late success."""
    engine = Engine(_storage().queryable, EngineOptions(timeout_s=3.5), clock=_Ticks())
    with pytest.raises(QueryTimeoutError):
        engine.instant_query("vector(1)", 300_000)
    engine = Engine(_storage().queryable, EngineOptions(timeout_s=4.5), clock=_Ticks())
    assert engine.instant_query("vector(1)", 300_000).value


def test_padded_windows_are_reserved_against_max_samples() -> None:
    """One long window beside many short ones: few samples, but quantile_over_time pads every
    window to the longest one, and that grid is what counts."""
    storage = _storage()
    for i in range(10):
        storage.add(Labels.from_dict({"__name__": "up", "instance": f"x{i}"}), 300_000, 1.0)
    engine = Engine(storage.queryable, EngineOptions(max_samples=100))
    assert engine.instant_query("count_over_time(up[10m])", 300_000).value
    with pytest.raises(TooManySamplesError):
        engine.instant_query("quantile_over_time(0.5, up[10m])", 300_000)
