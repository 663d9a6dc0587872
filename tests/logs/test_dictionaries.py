"""Streams that stay small share a zstd dictionary per label-name set in their block: their
chunks get smaller, and every read (after a restart, after compaction merges blocks with
different dictionaries) answers as the seam's fake fed the same pushes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.logs.pushes import T0, answers
from vigil.logs import Entries, Lines, MemoryLogStore
from vigil.logs.block import DICTIONARIES_FILE, LogBlock
from vigil.logs.chunk import BLOCK_ZSTD_LEVEL, Chunk
from vigil.logs.compact import DAY_NS
from vigil.logs.dictionaries import MIN_SMALL_CHUNKS, compress_for_block
from vigil.logs.head import HOUR_NS
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels, Matcher
from vigil.tsdb import CorruptDataError

MESSAGES = [
    "c.e.shop.web.OrderController : GET /api/orders/{n} -> 200 ({n} ms)",
    "c.e.shop.service.BookingService : Appointment {n} booked for user {n}",
    "o.h.engine.jdbc.spi.SqlExceptionHelper : Slow query on appointments took {n} ms",
    "c.z.hikari.pool.HikariPool : HikariPool-1 - Connection is not available after {n}ms",
]
DAY = T0 // DAY_NS * DAY_NS


def _lines(rng: np.random.Generator, n: int) -> list[str]:
    return [
        f"2026-12-07 10:00:{i % 60:02d}.{rng.integers(1000):03d}  INFO 4711 --- "
        f"[nio-8080-exec-{rng.integers(9)}] "
        + MESSAGES[int(rng.integers(len(MESSAGES)))].replace("{n}", str(rng.integers(1000)))
        for i in range(n)
    ]


def _pod(i: int) -> Labels:
    return Labels.from_dict({"app": "shop", "pod": f"p{i}"})


def _pushes(hours: range, pods: int = 24, seed: int = 5) -> list[list[Entries]]:
    rng = np.random.default_rng(seed)
    pushes = []
    for hour in hours:
        batch = []
        for i in range(pods):
            ts = DAY + hour * HOUR_NS + np.sort(rng.integers(0, HOUR_NS // 2, 60))
            meta = tuple(Labels.from_dict({"trace_id": f"{k}"}) for k in range(len(ts)))
            batch.append(Entries(_pod(i), ts.astype(np.int64), Lines.of(_lines(rng, 60)), meta))
        pushes.append(batch)
    return pushes


def test_small_chunks_of_a_label_name_set_share_a_dictionary_and_shrink() -> None:
    rng = np.random.default_rng(1)
    big = Lines.of(_lines(rng, 1200))  # over 64 KiB: compressed alone
    pods = 3 * MIN_SMALL_CHUNKS
    streams = [
        (_pod(i), [Chunk.encode(np.arange(60, dtype=np.int64), Lines.of(_lines(rng, 60)), None)])
        for i in range(pods)
    ]
    streams.append(
        (
            Labels.from_dict({"app": "db"}),
            [Chunk.encode(np.arange(len(big), dtype=np.int64), big, None)],
        )
    )
    few = (
        Labels.from_dict({"host": "h"}),
        [Chunk.encode(np.arange(len(big), dtype=np.int64), big, None)],
    )
    out = compress_for_block([*streams, few], BLOCK_ZSTD_LEVEL)
    plain = [c.recompressed(BLOCK_ZSTD_LEVEL) for _, chunks in streams[:-1] for c in chunks]
    shared = [c for _, chunks in out[:pods] for c in chunks]
    (dictionary,) = {id(c.dictionary): c.dictionary for c in shared}.values()
    assert dictionary is not None
    assert [c.dictionary for _, chunks in out[pods:] for c in chunks] == [None, None]
    assert sum(len(c.data) for c in shared) + len(dictionary.as_bytes()) < sum(
        len(c.data) for c in plain
    )
    for (labels, before), (_, after) in zip([*streams, few], out, strict=True):
        for b, a in zip(before, after, strict=True):
            want, got = b.entries(labels), a.entries(labels)
            assert want is not None and got is not None
            assert (list(got.lines), got.timestamps.tolist()) == (
                list(want.lines),
                want.timestamps.tolist(),
            )


QUERIES = [
    (DAY, DAY + DAY_NS, [Matcher.of("app", "=", "shop")]),
    (DAY + HOUR_NS, DAY + 3 * HOUR_NS, [Matcher.of("pod", "=~", "p1.*")]),
]


def _answers(store: LogStore | MemoryLogStore) -> list[tuple[object, ...]]:
    return [answers(store.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES]


def test_blocks_with_dictionaries_read_the_same_after_restart_and_compaction(
    tmp_path: Path,
) -> None:
    fake = MemoryLogStore()
    now = [DAY / 1e9]
    options = LogStoreOptions(retention_ns=0)
    with LogStore.open(tmp_path, options, clock=lambda: now[0]) as store:
        for hour, push in zip(range(0, 6, 2), _pushes(range(0, 6, 2)), strict=True):
            now[0] = (DAY + (hour + 1) * HOUR_NS) / 1e9
            assert store.push(push) == fake.push(push)
            now[0] = (DAY + (hour + 4) * HOUR_NS) / 1e9
            assert store.tick().written
        assert all((b.path / DICTIONARIES_FILE).exists() for b in store.blocks.blocks)
        assert _answers(store) == _answers(fake)
    with LogStore.open(tmp_path, options, clock=lambda: now[0]) as store:
        assert _answers(store) == _answers(fake)
        now[0] = (DAY + DAY_NS + 4 * HOUR_NS) / 1e9
        assert len(store.tick().compacted) == 1
        assert len(store.blocks.blocks) == 1
        assert _answers(store) == _answers(fake)


def test_a_block_whose_dictionaries_are_corrupt_is_left_out_naming_them(tmp_path: Path) -> None:
    now = [(DAY + HOUR_NS) / 1e9]
    with LogStore.open(tmp_path, LogStoreOptions(retention_ns=0), clock=lambda: now[0]) as store:
        assert not store.push(_pushes(range(1))[0]).discarded
        now[0] = (DAY + 4 * HOUR_NS) / 1e9
        (path,) = store.tick().written
    data = bytearray((path / DICTIONARIES_FILE).read_bytes())
    data[-1] ^= 0xFF
    (path / DICTIONARIES_FILE).write_bytes(bytes(data))
    with pytest.raises(CorruptDataError, match="dictionaries"):
        LogBlock.open(path)
