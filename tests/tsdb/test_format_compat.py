"""Data written by an earlier vigil still reads: `tests/fixtures/tsdb/v1` is a data dir (one
block and a WAL) written before the chunk codecs moved to `chunkenc/`, from the series
`_history()` makes. The codecs must keep writing the same bytes, too: re-encoding the
block's series gives its records back, and the head's chunk codec gives the digests it gave."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from vigil.model import Labels
from vigil.tsdb import STALE_NAN, SeriesData
from vigil.tsdb.block import open_blocks, write_block
from vigil.tsdb.chunkenc import decode_chunks, encode, encode_chunks
from vigil.tsdb.db import TSDB, TSDBOptions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tsdb" / "v1"
HOUR = 3_600_000
BLOCK_END = 2 * HOUR  # the block holds [0, 2h), the WAL the half hour after
HEAD_END = BLOCK_END + HOUR // 2
OPTIONS = TSDBOptions(wal_fsync="never", max_series=0)


def _history() -> list[SeriesData]:
    """Six series over [0, HEAD_END) at 15 s, one per value shape the codecs treat apart."""
    rng = np.random.default_rng(17)
    ts = np.arange(0, HEAD_END, 15_000, dtype=np.int64)
    n = len(ts)
    jitter = ts + rng.integers(-40, 40, n)
    jitter[0] = 0
    odd = np.round(rng.normal(size=n) * 1e3, 1)
    specials = np.array([STALE_NAN, np.nan, -0.0, np.inf, -np.inf, 1e300])
    odd[::10] = np.resize(specials, len(odd[::10]))
    shapes = {
        "counter": np.cumsum(rng.integers(0, 5000, n)).astype(np.float64),
        "gauge_2dp": np.round(50 + np.cumsum(rng.normal(size=n)), 2),
        "random": rng.normal(size=n) * 1e6,
        "mixed": odd,
        "constant": np.full(n, 3.0),
    }
    out = [
        SeriesData(Labels.from_dict({"__name__": name, "job": "compat"}), ts, values)
        for name, values in shapes.items()
    ]
    out.append(
        SeriesData(
            Labels.from_dict({"__name__": "jittered", "job": "compat"}),
            np.sort(jitter),
            np.round(rng.uniform(0, 1, n), 3),
        )
    )
    return sorted(out, key=lambda s: s.labels)


def _part(series: SeriesData, mint: int, maxt: int) -> SeriesData:
    keep = (series.timestamps >= mint) & (series.timestamps <= maxt)
    return SeriesData(series.labels, series.timestamps[keep], series.values[keep])


def write_fixture(path: Path) -> None:
    """How `FIXTURE` was made (kept to document it; the test never rewrites it)."""
    history = _history()
    write_block(path, [_part(s, 0, BLOCK_END - 1) for s in history], 0, BLOCK_END - 1)
    db = TSDB.open(path, OPTIONS)
    try:
        appender = db.appender()
        for s in history:
            head = _part(s, BLOCK_END, HEAD_END)
            for t, v in zip(head.timestamps.tolist(), head.values.tolist(), strict=True):
                appender.append(s.labels, t, v)
        appender.commit()
    finally:
        db.close()
    (path / "lock").unlink(missing_ok=True)


def _bits(found: list[SeriesData]) -> list[tuple[Labels, list[int], list[int]]]:
    return [(s.labels, s.timestamps.tolist(), s.values.view(np.uint64).tolist()) for s in found]


def test_a_data_dir_written_before_still_reads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    db = TSDB.open(data, OPTIONS)
    try:
        querier = db.querier(0, HEAD_END)
        got = list(querier.select([]))
        querier.close()
    finally:
        db.close()
    assert _bits(got) == _bits(_history())


def test_block_records_are_written_as_before() -> None:
    (block,) = open_blocks(FIXTURE)
    with block:
        for sid, stored in enumerate(block.all_series()):
            record = bytes(block._index.record(sid))
            assert encode(stored.timestamps, stored.values) == record


HEAD_CHUNK_DIGESTS = {
    "counter": "472e510ce23ee8c57ed0544e38ff5ca74f3d6dcc04d9b4b7781de0371af54752",
    "gauge_2dp": "73e5f9e7bc12917d267be7c662e2ed31f9fb2a4bd3a0d2fafc7b0b451a8c46d4",
    "random": "cc0a15a0b3b27e849125d009b3d5b87713fab1e24d543a7a40e4121a6b1f5b0e",
    "mixed": "e9e3c4fa356056198b1bd8372bd225c826a76154bb87d7be374b78e4281e28c7",
    "constant": "2a7000cee43b885a683ec9cd0e19ab5a8217a02030dc2ab263d8bfc1f4b42c81",
    "jittered": "97df7ea4980c19193168fa8277cd88716bdd6ffec0d25e48c9613958bf5333e9",
}


@pytest.mark.parametrize("name", sorted(HEAD_CHUNK_DIGESTS))
def test_head_chunks_are_encoded_as_before(name: str) -> None:
    (series,) = [s for s in _history() if s.labels.get("__name__") == name]
    rows = len(series.timestamps) // 120
    ts = series.timestamps[: rows * 120].reshape(rows, 120)
    vs = series.values[: rows * 120].reshape(rows, 120)
    records = encode_chunks(ts, vs)
    got_t, got_v, lengths = decode_chunks(records)
    assert (got_t.tolist(), got_v.view(np.uint64).tolist(), lengths.tolist()) == (
        ts.reshape(-1).tolist(),
        vs.reshape(-1).view(np.uint64).tolist(),
        [120] * rows,
    )
    assert hashlib.sha256(b"".join(records)).hexdigest() == HEAD_CHUNK_DIGESTS[name]
