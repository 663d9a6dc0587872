"""Retention by time and size, with a driven clock: whole blocks, oldest first."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.tsdb.block import Block, BlockMeta
from vigil.tsdb.retention import expired

H = 3600_000


class FakeBlock(Block):
    def __init__(self, name: str, mint_h: int, maxt_h: int, size: int) -> None:
        self.meta = BlockMeta(name, mint_h * H, maxt_h * H - 1, 0, 0)
        self.path = Path(name)
        self.size_bytes = size


BLOCKS = [FakeBlock("a", 0, 2, 100), FakeBlock("b", 2, 4, 100), FakeBlock("c", 4, 6, 100)]

CASES = [
    ("no limits", 100 * H, None, None, 0, []),
    ("time: all young", 6 * H, 24 * H, None, 0, []),
    ("time: oldest wholly out", 2 * H + 24 * H, 24 * H, None, 0, ["a"]),
    ("time: straddling block stays", 2 * H + 24 * H - 1, 24 * H, None, 0, []),
    ("time: all out", 100 * H, 24 * H, None, 0, ["a", "b", "c"]),
    ("size: fits exactly", 6 * H, None, 300, 0, []),
    ("size: one too many", 6 * H, None, 299, 0, ["a"]),
    ("size: WAL counts", 6 * H, None, 300, 150, ["a", "b"]),
    ("size: WAL alone too big", 6 * H, None, 100, 200, ["a", "b", "c"]),
    ("both", 2 * H + 24 * H, 24 * H, 250, 0, ["a"]),
    ("zero disables", 100 * H, 0, 0, 0, []),
]


@pytest.mark.parametrize(
    ("name", "now", "retention_ms", "retention_bytes", "other", "want"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_expired(
    name: str,
    now: int,
    retention_ms: int | None,
    retention_bytes: int | None,
    other: int,
    want: list[str],
) -> None:
    got = expired(list(reversed(BLOCKS)), now, retention_ms, retention_bytes, other)
    assert [b.meta.ulid for b in got] == want
