"""Stores written by earlier versions still read: `tests/fixtures/logs/v1` is a store dir
(one block, chunks in the WAL, open pieces) written by the first chunk format (VLC2) from
`fixture_pushes()`; it must answer every query as the seam's fake fed the same pushes.
Regenerate nothing here: the files are the old code's output, kept as they were."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from tests.logs.pushes import QUERIES, SCENARIOS, T0, answers, pushes, store_options
from vigil.logs import Entries, MemoryLogStore
from vigil.logs.head import HOUR_NS
from vigil.logs.store import LogStore, LogStoreOptions

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "logs" / "v1"
FLUSHED_AT = T0 + 150_000


def fixture_pushes() -> list[list[Entries]]:
    return pushes(SCENARIOS[3])


def fixture_options() -> LogStoreOptions:
    scenario = SCENARIOS[3]
    return dataclasses.replace(
        store_options(scenario.target_bytes, scenario.span_ns), block_range_ns=1, retention_ns=0
    )


class _Clock:
    def __call__(self) -> float:
        return (FLUSHED_AT + HOUR_NS) / 1e9


def test_a_store_written_by_the_first_format_reads_the_same(tmp_path: Path) -> None:
    fake = MemoryLogStore()
    for push in fixture_pushes():
        fake.push(push)
    shutil.copytree(FIXTURE, tmp_path / "store")
    with LogStore.open(tmp_path / "store", fixture_options(), clock=_Clock()) as store:
        assert len(store.blocks.blocks) == 1
        got = [answers(store.querier(lo, hi), m) for lo, hi, m in QUERIES]
    assert got == [answers(fake.querier(lo, hi), m) for lo, hi, m in QUERIES]
