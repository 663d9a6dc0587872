"""The log seam's value types and its fake: what every store must answer alike."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.logs import Discarded, Entries, IndexStats, Lines, MemoryLogStore, PushResult
from vigil.model import Labels, Matcher

APP = Labels.from_dict({"job": "app", "level": "info"})
DB = Labels.from_dict({"job": "db"})


def _entries(
    labels: Labels, rows: list[tuple[int, str]], meta: tuple[Labels, ...] | None = None
) -> Entries:
    return Entries(
        labels, np.array([t for t, _ in rows], dtype=np.int64), Lines.of([s for _, s in rows]), meta
    )


def test_lines_column_round_trips_lines_with_any_bytes() -> None:
    raw = ["plain", "", "ünïcode ✓", "tab\tand\nnewline"]
    lines = Lines.of(raw)
    assert (len(lines), list(lines), lines[2], lines.sizes().tolist()) == (
        4,
        [s.encode() for s in raw],
        raw[2].encode(),
        [len(s.encode()) for s in raw],
    )
    assert list(lines.take(np.array([3, 0], dtype=np.int64))) == [raw[3].encode(), b"plain"]


@pytest.mark.parametrize(
    ("discarded", "status"),
    [
        ((), 204),
        ((Discarded("line_too_long", APP, 1, 300_000, "line too long"),), 400),
        (
            (
                Discarded("line_too_long", APP, 1, 300_000, "line too long"),
                Discarded("rate_limited", DB, 10, 1000, "ingestion rate limit exceeded"),
            ),
            429,
        ),
    ],
)
def test_push_result_status_is_what_loki_answers(
    discarded: tuple[Discarded, ...], status: int
) -> None:
    assert PushResult(1, 10, discarded).status() == status


def test_memory_store_answers_the_querier_contract() -> None:
    store = MemoryLogStore()
    trace = Labels.from_dict({"trace_id": "abc"})
    result = store.push(
        [
            _entries(APP, [(30, "c"), (10, "a")], (Labels(), trace)),
            _entries(DB, [(20, "db line")]),
            _entries(APP, [(20, "b")]),
        ]
    )
    assert result == PushResult(accepted_lines=4, accepted_bytes=10)

    querier = store.querier(10, 25)
    got = [
        (e.labels, e.timestamps.tolist(), list(e.lines), e.metadata)
        for e in querier.select([Matcher.of("job", "=~", "app|db")])
    ]
    assert got == [
        (APP, [10, 20], [b"a", b"b"], (trace, Labels())),
        (DB, [20], [b"db line"], None),
    ]
    assert (
        querier.series([Matcher.of("job", "!=", "db")]),
        querier.label_names(),
        querier.label_values("job"),
        querier.stats([Matcher.of("job", "=", "app")]),
    ) == (
        [APP],
        ["job", "level"],
        ["app", "db"],
        IndexStats(streams=1, chunks=1, entries=2, bytes=2),
    )
