"""A corrupt block (a flipped byte in its chunks or index, a truncated file) does not stop the
TSDB: reads that need it fail with CorruptBlockError naming the block and file, the rest is
served, it is logged once and counted, compaction leaves it alone, and `vigil tsdb repair`
quarantines it after reading every part of every block."""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil import cmd
from vigil.model import Labels, Matcher
from vigil.tsdb import SeriesData
from vigil.tsdb.block import Block, write_block
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.index import CHUNKS_FILE, INDEX_FILE, CorruptBlockError

H = 3_600_000
ALL = [Matcher.of("__name__", "=~", ".+")]
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tsdb" / "v1"


def _series(start: int) -> list[SeriesData]:
    ts = start + np.arange(0, 2 * H, 60_000, dtype=np.int64)
    return [
        SeriesData(Labels.from_dict({"__name__": name, "job": "j"}), ts, np.arange(len(ts)) * k)
        for k, name in enumerate(("a", "b", "c"), start=1)
    ]


def _three_blocks(data: Path) -> list[Path]:
    """Blocks [0, 2h), [2h, 4h), [4h, 6h), three series each."""
    return [write_block(data, _series(i * 2 * H), i * 2 * H, (i + 1) * 2 * H - 1) for i in range(3)]


def _flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x10
    path.write_bytes(bytes(data))


def _cut(path: Path) -> None:
    os.truncate(path, path.stat().st_size - 5)


CORRUPTIONS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "chunks-flipped-byte": (CHUNKS_FILE, _flip),
    "index-flipped-byte": (INDEX_FILE, _flip),
    "index-table-of-contents-flipped-byte": (INDEX_FILE, lambda p: _flip(p, 0.01)),
    "chunks-truncated": (CHUNKS_FILE, _cut),
    "index-truncated": (INDEX_FILE, _cut),
}
OPTIONS = TSDBOptions(max_series=0, wal_fsync="never")


def _open(data: Path, registry: CollectorRegistry | None = None) -> TSDB:
    return TSDB.open(data, OPTIONS, clock=lambda: 3 * 2 * H / 1000, registry=registry)


def _select(db: TSDB, mint: int, maxt: int) -> dict[str, int]:
    querier = db.querier(mint, maxt)
    try:
        return {s.labels.get("__name__"): len(s.timestamps) for s in querier.select(ALL)}
    finally:
        querier.close()


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_reads_that_need_a_corrupt_block_fail_naming_it_and_the_rest_is_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, corrupt: tuple[str, Callable[[Path], None]]
) -> None:
    file, damage = corrupt
    blocks = _three_blocks(tmp_path)
    damage(blocks[1] / file)
    registry = CollectorRegistry()
    with caplog.at_level(logging.ERROR, logger="vigil.tsdb"), _open(tmp_path, registry) as db:
        for _ in range(3):
            with pytest.raises(CorruptBlockError) as err:
                _select(db, 2 * H, 4 * H - 1)
            assert (err.value.block, err.value.file) == (blocks[1], file)
            assert f"corrupt block {blocks[1]}: {file}: " in str(err.value)
        assert _select(db, 0, 2 * H - 1) == {"a": 120, "b": 120, "c": 120}
        assert _select(db, 4 * H, 6 * H - 1) == {"a": 120, "b": 120, "c": 120}
        assert registry.get_sample_value("vigil_tsdb_blocks_corrupt") == 1.0
    (logged,) = [r.getMessage() for r in caplog.records]
    assert logged.startswith(f"corrupt block {blocks[1]}: {file}: ")
    assert f"until `vigil tsdb repair {tmp_path}` moves the block to quarantine" in logged


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_repair_quarantines_a_corrupt_block_and_queries_succeed_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], corrupt: tuple[str, Callable[[Path], None]]
) -> None:
    file, damage = corrupt
    data = tmp_path / "data"
    blocks = _three_blocks(data)
    damage(blocks[1] / file)

    assert cmd.main(["tsdb", "repair", str(data)]) == 1
    report = capsys.readouterr().out
    assert f"corrupt block {blocks[1]}: {file}: " in report
    assert f"Moving it to {data / 'quarantine'} would drop its 360 samples of 3 series" in report
    assert blocks[1].is_dir(), "nothing moves without --yes"

    assert cmd.main(["tsdb", "repair", str(data), "--yes"]) == 0
    moved = data / "quarantine" / blocks[1].name
    assert f"to {moved}; it drops its 360 samples of 3 series in [{2 * H}, {4 * H - 1}]" in (
        capsys.readouterr().out
    )
    assert not blocks[1].exists() and (moved / file).is_file()
    registry = CollectorRegistry()
    with _open(data, registry) as db:
        assert _select(db, 0, 6 * H - 1) == {"a": 240, "b": 240, "c": 240}
        assert registry.get_sample_value("vigil_tsdb_blocks_corrupt") == 0.0
    assert cmd.main(["tsdb", "repair", str(data)]) == 0
    assert "2 block(s) in" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["dump", "analyze"])
def test_dump_and_analyze_name_a_corrupt_block_and_the_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    blocks = _three_blocks(tmp_path)
    _flip(blocks[2] / INDEX_FILE)
    assert cmd.main(["tsdb", command, str(tmp_path)]) == 1
    said = capsys.readouterr().err
    assert said.startswith(
        f"vigil tsdb {command}: corrupt block {blocks[2]}: {INDEX_FILE}: checksum mismatch"
    )
    assert said.endswith(f"(`vigil tsdb repair {tmp_path}` moves corrupt blocks to quarantine)\n")


def test_a_block_without_a_readable_meta_is_left_out_counted_and_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = _three_blocks(tmp_path)
    (blocks[1] / "meta.json").write_text("{")
    registry = CollectorRegistry()
    with _open(tmp_path, registry) as db:
        assert _select(db, 0, 6 * H - 1) == {"a": 240, "b": 240, "c": 240}
        assert registry.get_sample_value("vigil_tsdb_blocks_corrupt") == 1.0
    assert cmd.main(["tsdb", "repair", str(tmp_path), "--yes"]) == 0
    assert "it drops all its samples (its meta.json does not say how many)" in (
        capsys.readouterr().out
    )
    assert (tmp_path / "quarantine" / blocks[1].name).is_dir()


def test_compaction_leaves_a_block_found_corrupt_alone_and_merges_the_others(
    tmp_path: Path,
) -> None:
    blocks = _three_blocks(tmp_path)
    blocks.append(write_block(tmp_path, _series(6 * H), 6 * H, 8 * H - 1))
    _flip(blocks[1] / CHUNKS_FILE)  # found only when compaction reads it
    registry = CollectorRegistry()
    with _open(tmp_path, registry) as db:
        report = db.tick()  # [0, 6h) is full: its three blocks are merged, or two of them
        assert [b.path for b in db.blocks if b.corruption is not None] == [blocks[1]]
        assert registry.get_sample_value("vigil_tsdb_blocks_corrupt") == 1.0
        assert len(report.blocks_compacted) == 1
        assert _select(db, 0, 2 * H - 1) == {"a": 120, "b": 120, "c": 120}
        assert _select(db, 4 * H, 8 * H - 1) == {"a": 240, "b": 240, "c": 240}


def test_an_index_written_before_its_checksum_is_checked_table_by_table(tmp_path: Path) -> None:
    """Version 1 indexes (no CRC32) still read; a postings entry pointing past the series is
    a CorruptBlockError for the query and for `verify`, not an IndexError."""
    shutil.copytree(FIXTURE, tmp_path / "data")
    (path,) = [p for p in (tmp_path / "data").iterdir() if (p / INDEX_FILE).is_file()]
    data = bytearray((path / INDEX_FILE).read_bytes())
    _, version, toc_len = struct.unpack_from("<8sII", data)
    toc = json.loads(data[16 : 16 + toc_len])
    start, dtype, count = toc["tables"]["postings"]
    assert (version, dtype) == (1, "<u4")
    last_high_byte = 16 + toc_len + start + 4 * count - 1
    data[last_high_byte] = 0x7F  # the last postings entry: a series id far past the end
    (path / INDEX_FILE).write_bytes(bytes(data))
    with Block.open(path) as block:
        with pytest.raises(CorruptBlockError, match="IndexError"):
            list(block.select([Matcher.of("job", "=", "compat")]))
        assert block.corruption is not None
    with Block.open(path) as block:
        found = block.verify()
    assert found is not None and "inconsistent tables: postings" in found.reason
