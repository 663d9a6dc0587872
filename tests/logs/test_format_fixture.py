"""Stores written by earlier versions still read: each dir of `tests/fixtures/logs` is a store
(one block, chunks in the WAL, open pieces) written from `fixture_pushes()` and one tick at
`FLUSHED_AT` + 1 h by the code of its time — `v1` by the first chunk format (VLC2), `v2` by
fixed-width timestamp and size columns (VLC3), `v3` by the block index with per-chunk flags
(VLI3), `v4` by the index naming block dictionaries (VLI4) — and must answer every query as the seam's fake fed the same pushes. Regenerate nothing here: the files are the old code's output, kept
as they were."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from tests.logs.pushes import QUERIES, SCENARIOS, T0, answers, pushes, store_options
from vigil.logs import Entries, MemoryLogStore
from vigil.logs.head import HOUR_NS
from vigil.logs.store import LogStore, LogStoreOptions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
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


@pytest.mark.parametrize("version", ["v1", "v2", "v3", "v4"])
def test_a_store_written_by_an_earlier_format_reads_the_same(tmp_path: Path, version: str) -> None:
    fake = MemoryLogStore()
    for push in fixture_pushes():
        fake.push(push)
    shutil.copytree(FIXTURES / version, tmp_path / "store")
    with LogStore.open(tmp_path / "store", fixture_options(), clock=_Clock()) as store:
        assert len(store.blocks.blocks) == 1
        got = [answers(store.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES]
    assert got == [answers(fake.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES]
