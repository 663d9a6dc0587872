"""The engine gives a big query's freed memory back to the system, and only a big one's."""

from __future__ import annotations

from vigil.promql import Engine
from vigil.promql.engine import TRIM_AFTER_CELLS
from vigil.tsdb import MemoryStorage


def test_the_engine_trims_after_a_big_query_only() -> None:
    released: list[None] = []
    engine = Engine(MemoryStorage().queryable, release=lambda: released.append(None))
    engine.instant_query("count_over_time(vector(1)[10m:1ms])", 3_600_000)  # 600,000 steps
    assert released == []
    inner_steps = TRIM_AFTER_CELLS + 60_000
    engine.instant_query(f"count_over_time(vector(1)[{inner_steps}ms:1ms])", 3_600_000)
    assert released == [None]
