"""Engine behaviour not covered by the upstream scripts: limits, parse errors, result types."""

from __future__ import annotations

import pytest

from vigil.model import Labels
from vigil.promql import Engine, EngineOptions, ParseError, TooManySamplesError, Vector
from vigil.promql.errors import QueryTimeoutError, UnsupportedFeatureError
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
