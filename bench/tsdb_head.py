"""Head append and WAL replay throughput: the scrape-loop shape (the same 10k series every
scrape, refs cached by the caller), through `append_batch` + `commit`.

Prints samples/s for the head alone and with the WAL (fsync="batch"), and the time to
replay the WAL into a fresh head. Run: `.venv/bin/python bench/tsdb_head.py`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from vigil.model import Labels
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.head import Head
from vigil.tsdb.head_state import F64, I64, HeadOptions


def _labels(n_series: int) -> list[Labels]:
    return [
        Labels.from_dict(
            {
                "__name__": f"metric_{i % 200}",
                "instance": "localhost:9100",
                "job": "node",
                "id": str(i),
            }
        )
        for i in range(n_series)
    ]


def _scrapes(
    append_batch: Callable[[I64, I64, F64], None],
    refs: I64,
    scrapes: int,
    interval_ms: int,
    commit: Callable[[], None],
) -> float:
    rng = np.random.default_rng(1)
    values = rng.random((scrapes, len(refs)))
    started = time.perf_counter()
    for i in range(scrapes):
        append_batch(refs, np.full(len(refs), i * interval_ms, dtype=np.int64), values[i])
        commit()
    return time.perf_counter() - started


def bench_head(n_series: int, scrapes: int) -> float:
    head = Head(HeadOptions(block_range_ms=10**12))
    appender = head.appender()
    refs = appender.refs_for(_labels(n_series))
    elapsed = _scrapes(appender.append_batch, refs, scrapes, 15_000, appender.commit)
    return n_series * scrapes / elapsed


def bench_db(n_series: int, scrapes: int, directory: Path) -> tuple[float, float, int]:
    options = TSDBOptions(block_range_ms=10**12, max_series=0, wal_fsync="batch")
    with TSDB.open(directory, options, registry=CollectorRegistry()) as db:
        appender = db.appender()
        refs = appender.refs_for(_labels(n_series))
        elapsed = _scrapes(appender.append_batch, refs, scrapes, 15_000, appender.commit)
        wal_bytes = db.wal.size_bytes()
    started = time.perf_counter()
    with TSDB.open(directory, options, registry=CollectorRegistry()) as db:
        replay_s = time.perf_counter() - started
        assert db.head.num_series == n_series
    return n_series * scrapes / elapsed, replay_s, wal_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=240)
    args = parser.parse_args()
    rate = bench_head(args.series, args.scrapes)
    print(
        f"head append_batch+commit, {args.series} series x {args.scrapes} scrapes: {rate / 1e6:.2f}M samples/s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        rate, replay_s, wal_bytes = bench_db(args.series, args.scrapes, Path(tmp))
    samples = args.series * args.scrapes
    print(
        f"db (head + WAL, fsync=batch): {rate / 1e6:.2f}M samples/s, WAL {wal_bytes / samples:.1f} bytes/sample"
    )
    print(
        f"WAL replay of {args.series} series / {samples} samples: {replay_s:.2f}s "
        f"({samples / replay_s / 1e6:.2f}M samples/s)"
    )
    print("peer (Prometheus's Go head appender): not run here, it needs a Go toolchain")


if __name__ == "__main__":
    main()
