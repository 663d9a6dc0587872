"""Compaction planning (Prometheus's leveled planner) and merging, as tables of block ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.model import Labels, Matcher
from vigil.tsdb import SeriesData
from vigil.tsdb.block import Block, BlockMeta, write_block
from vigil.tsdb.compact import block_ranges, compact, plan

H = 3600_000
RANGES = [2 * H, 6 * H, 18 * H]


class FakeBlock(Block):
    """Only meta matters to the planner: no files."""

    def __init__(self, mint_h: float, maxt_h: float, name: str) -> None:
        self.meta = BlockMeta(name, int(mint_h * H), int(maxt_h * H) - 1, 0, 0)
        self.path = Path(name)
        self.size_bytes = 0


def blocks(*spans: tuple[float, float]) -> list[Block]:
    return [FakeBlock(lo, hi, f"b{i}") for i, (lo, hi) in enumerate(spans)]


PLANS = [
    ("nothing", [], []),
    ("one block", [(0, 2)], []),
    ("newest block is kept out", [(0, 2), (2, 4)], []),
    ("three fill 6h but newest is out", [(0, 2), (2, 4), (4, 6)], []),
    ("full 6h range before newest", [(0, 2), (2, 4), (4, 6), (6, 8)], [["b0", "b1", "b2"]]),
    ("partial range, newest left is inside", [(0, 2), (2, 4), (6, 8)], []),
    ("partial range wholly before newest left", [(0, 2), (2, 4), (6, 8), (8, 10)], [["b0", "b1"]]),
    (
        "two full ranges",
        [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14)],
        [["b0", "b1", "b2"], ["b3", "b4", "b5"]],
    ),
    ("6h blocks into 18h", [(0, 6), (6, 12), (12, 18), (18, 20)], [["b0", "b1", "b2"]]),
    ("overlap comes first", [(0, 2), (1, 3), (4, 6), (6, 8), (8, 10), (10, 12)], [["b0", "b1"]]),
    ("overlap chain", [(0, 2), (1, 3), (2.5, 4), (6, 8)], [["b0", "b1", "b2"]]),
    ("unaligned block skipped", [(1, 7), (8, 10), (10, 12), (12, 14), (14, 16)], [["b1", "b2"]]),
]


@pytest.mark.parametrize(("name", "spans", "want"), PLANS, ids=[p[0] for p in PLANS])
def test_plan(name: str, spans: list[tuple[float, float]], want: list[list[str]]) -> None:
    got = plan(blocks(*spans), RANGES)
    assert [[b.meta.ulid for b in group] for group in got] == want


def test_block_ranges_stop_at_a_tenth_of_retention() -> None:
    assert block_ranges(15 * 24 * H) == [2 * H, 6 * H, 18 * H]
    assert block_ranges(None)[-1] <= 31 * 24 * H
    assert block_ranges(10 * H) == [2 * H]


def series(name: str, ts: list[int], vs: list[float]) -> SeriesData:
    return SeriesData(
        Labels.from_dict({"__name__": name}), np.array(ts, dtype=np.int64), np.array(vs)
    )


def test_compact_merges_and_deduplicates(tmp_path: Path) -> None:
    first = Block.open(
        write_block(tmp_path, [series("a", [0, 10], [1, 2]), series("b", [5], [7])], 0, 2 * H - 1)
    )
    second = Block.open(
        write_block(
            tmp_path,
            [series("a", [2 * H, 2 * H + 10], [3, 4]), series("c", [2 * H], [9])],
            2 * H,
            4 * H - 1,
        )
    )
    overlap = Block.open(write_block(tmp_path, [series("a", [10, 20], [20, 30])], 0, 2 * H - 1))
    merged = Block.open(compact(tmp_path, [second, overlap, first]))
    try:
        got = {
            s.labels.get("__name__"): (s.timestamps.tolist(), s.values.tolist())
            for s in merged.select([Matcher.of("__name__", "=~", ".+")])
        }
        assert got["a"][0] == [0, 10, 20, 2 * H, 2 * H + 10]
        assert got["a"][1][0] == 1 and got["a"][1][2:] == [30, 3, 4]
        assert got["a"][1][1] in (2, 20)  # the same timestamp in two blocks: one survives
        assert got["b"] == ([5], [7]) and got["c"] == ([2 * H], [9])
        meta = merged.meta
        assert (meta.mint, meta.maxt, meta.level, meta.num_series, meta.num_samples) == (
            0,
            4 * H - 1,
            2,
            3,
            7,
        )
        assert set(meta.sources) == {first.meta.ulid, second.meta.ulid, overlap.meta.ulid}
    finally:
        for b in (first, second, overlap, merged):
            b.close()


def test_compact_later_block_wins_duplicates(tmp_path: Path) -> None:
    older = Block.open(write_block(tmp_path, [series("a", [10], [1.0])], 0, H))
    newer = Block.open(write_block(tmp_path, [series("a", [10], [2.0])], 0, H))
    with Block.open(compact(tmp_path, [newer, older])) as merged:
        (got,) = merged.select([])
        assert got.values.tolist() == [2.0]
    older.close()
    newer.close()
