"""`max_samples` is checked before a step grid is allocated: subqueries, selectors and range
queries whose grids would not fit are refused at once with Prometheus's error."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from vigil.model import Labels
from vigil.promql import Engine, EngineOptions, Matrix, TooManySamplesError
from vigil.promql.testing import MemoryStorage

# Each would once allocate from gigabytes to terabytes; run in a child process whose address
# space is capped, so a regression fails with MemoryError instead of taking the machine down.
BOMBS = [
    ("instant", "count_over_time(vector(1)[30d:1ms])"),
    ("instant", "count_over_time(vector(1)[10y:1ms])"),
    ("instant", "count_over_time(vector(1)[1d:1ms])"),
    ("instant", "max_over_time(count_over_time(vector(1)[1h:1ms])[1d:1s])"),
    ("instant", "count_over_time(vector(1)[1d:1ms] @ 1e9)"),
    ("range", "vector(1)"),
    ("range", "count_over_time(up[1d])"),
]
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    from vigil.promql import Engine
    from vigil.promql.testing import MemoryStorage
    engine = Engine(MemoryStorage().queryable)
    answers = []
    for kind, query in json.loads(sys.argv[1]):
        try:
            if kind == "instant":
                engine.instant_query(query, 86_400_000)
            else:
                engine.range_query(query, 0, 86_400_000, 1)
            answers.append("ok")
        except Exception as err:
            answers.append(type(err).__name__)
    print(json.dumps(answers))
    """
)


def test_bombs_are_refused_before_allocating() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(BOMBS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout) == ["TooManySamplesError"] * len(BOMBS)


def _storage(series: int) -> MemoryStorage:
    storage = MemoryStorage()
    for i in range(series):
        for t in range(0, 600_000, 15_000):
            storage.add(Labels.from_dict({"__name__": "up", "i": str(i)}), t, 1.0)
    return storage


@pytest.mark.parametrize(
    ("query", "steps", "refused"),
    [
        ("up", 10, False),  # 10 series × 10 steps: exactly max_samples
        ("up", 11, True),
        ("count_over_time(up[1m])", 10, False),
        ("count_over_time(up[1m])", 11, True),
        ("vector(1)", 100, False),
        ("vector(1)", 101, True),
        ("count_over_time(vector(1)[99s:1s])", 1, False),  # 99 inner steps
        ("count_over_time(vector(1)[100s:1s])", 1, False),
        ("count_over_time(vector(1)[101s:1s])", 1, True),
    ],
)
def test_grid_cells_against_max_samples(query: str, steps: int, refused: bool) -> None:
    engine = Engine(_storage(10).queryable, EngineOptions(max_samples=100))
    end = 300_000 + (steps - 1) * 1_000
    if refused:
        with pytest.raises(TooManySamplesError):
            engine.range_query(query, 300_000, end, 1_000) if steps > 1 else engine.instant_query(
                query, 300_000
            )
    elif steps > 1:
        assert isinstance(engine.range_query(query, 300_000, end, 1_000).value, Matrix)
    else:
        engine.instant_query(query, 300_000)
