"""Live series over a Queryable: the live value is the newest sample of its series (merged with
what is stored under the same labels), seen by queries that reach the present only, the same
through `select`, `select_batch` and the label calls; and a PromQL rule reads it."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.model import Labels, Matcher
from vigil.promql.engine import Engine
from vigil.promql.value import Vector
from vigil.tsdb import MemoryStorage, SelectHints
from vigil.tsdb.live import LiveSeriesQueryable

NOW_MS = 1_700_000_000_000
FAILING = Labels.from_dict(
    {"__name__": "vigil_tsdb_writes_failing", "instance": "a:9090", "job": "vigil"}
)
OTHER = Labels.from_dict(
    {"__name__": "vigil_tsdb_writes_failing", "instance": "b:9090", "job": "vigil"}
)
NAME = [Matcher.of("__name__", "=", "vigil_tsdb_writes_failing")]


def _layered(live_value: float = 1.0) -> LiveSeriesQueryable:
    stored = MemoryStorage()
    for t in range(NOW_MS - 60_000, NOW_MS - 29_000, 15_000):  # the disk filled 30 s ago
        stored.add(FAILING, t, 0.0)
        stored.add(OTHER, t, 0.0)
    return LiveSeriesQueryable(stored.queryable, lambda: [(FAILING, live_value)], lambda: NOW_MS)


def _select(mint: int, maxt: int) -> dict[Labels, list[tuple[int, float]]]:
    querier = _layered()(mint, maxt)
    found = {
        s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in querier.select(NAME)
    }
    batch = querier.select_batch(NAME)
    from_batch = {
        labels: list(
            zip(
                batch.timestamps[a:z].tolist(),
                batch.values[a:z].tolist(),
                strict=True,
            )
        )
        for labels, a, z in zip(
            batch.labels, batch.starts[:-1].tolist(), batch.starts[1:].tolist(), strict=True
        )
    }
    assert from_batch == found
    return found


STORED = [(NOW_MS - 60_000, 0.0), (NOW_MS - 45_000, 0.0), (NOW_MS - 30_000, 0.0)]
CASES = [
    (
        "an instant query now: the live value is the newest sample",
        NOW_MS - 300_000,
        NOW_MS,
        {FAILING: [*STORED, (NOW_MS, 1.0)], OTHER: STORED},
    ),
    (
        "a rule's slot a little before now: stamped at the query's end",
        NOW_MS - 300_000,
        NOW_MS - 2_000,
        {FAILING: [*STORED, (NOW_MS - 2_000, 1.0)], OTHER: STORED},
    ),
    (
        "a range reaching past now: stamped now",
        NOW_MS - 300_000,
        NOW_MS + 60_000,
        {FAILING: [*STORED, (NOW_MS, 1.0)], OTHER: STORED},
    ),
    (
        "yesterday: the storage alone",
        NOW_MS - 86_400_000,
        NOW_MS - 86_000_000,
        {},
    ),
    (
        "the future only: nothing live",
        NOW_MS + 60_000,
        NOW_MS + 120_000,
        {},
    ),
]


@pytest.mark.parametrize(
    ("mint", "maxt", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_live_samples_join_stored_series(
    mint: int, maxt: int, want: dict[Labels, list[tuple[int, float]]]
) -> None:
    assert _select(mint, maxt) == want


def test_label_calls_and_series_only_selects_include_live_series() -> None:
    live = Labels.from_dict({"__name__": "vigil_live_only", "role": "self"})
    layered = LiveSeriesQueryable(MemoryStorage().queryable, lambda: [(live, 1.0)], lambda: NOW_MS)
    querier = layered(NOW_MS - 1000, NOW_MS)
    only = SelectHints(series_only=True)
    selected = [(s.labels, len(s.timestamps)) for s in querier.select([], only)]
    batch = querier.select_batch([], only)
    assert (
        selected,
        list(batch.labels),
        querier.series([]),
        querier.label_names(),
        querier.label_values("role"),
        querier.label_values("role", [Matcher.of("role", "=", "other")]),
    ) == ([(live, 0)], [live], [live], ["__name__", "role"], ["self"], [])


def test_a_rule_expression_reads_the_live_value_not_the_stored_one() -> None:
    def failing(live_value: float) -> list[tuple[str, float]]:
        engine = Engine(_layered(live_value))
        value = engine.instant_query(
            "max by (instance, job) (vigil_tsdb_writes_failing) > 0", NOW_MS
        ).value
        assert isinstance(value, Vector)
        return [(s.labels.get("instance"), s.value) for s in value.samples]

    assert (failing(1.0), failing(0.0)) == ([("a:9090", 1.0)], [])


def test_without_live_series_the_inner_querier_answers_alone() -> None:
    stored = MemoryStorage()
    stored.add(FAILING, NOW_MS, 0.0)
    querier = LiveSeriesQueryable(stored.queryable, lambda: [], lambda: NOW_MS)(0, NOW_MS)
    assert [s.values.tolist() for s in querier.select(NAME)] == [[0.0]]
    assert np.array_equal(querier.select_batch(NAME).values, np.array([0.0]))
