"""Crash safety for real: a pushing process is `kill -9`ed at random moments (mid-push,
mid-segment, mid-chunk-cut, mid-flush into a block, mid-checkpoint, mid-compaction); every
push it acknowledged must be there, once, after the store is opened again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vigil.logs.block import read_meta
from vigil.logs.head import HeadOptions
from vigil.logs.limits import LogLimits
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.tsdb.block import is_ulid

pytestmark = pytest.mark.slow

# Small segments, chunks and block ranges: segment switches, chunk cuts, flushes into
# blocks, checkpoints and compactions happen constantly.
WRITER = """
import sys
import numpy as np
from vigil.logs import Entries, Lines
from vigil.logs.head import HeadOptions
from vigil.logs.limits import LogLimits
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels

MINUTE = 60 * 10**9
options = LogStoreOptions(
    HeadOptions(chunk_target_bytes=500, out_of_order_window_ns=5 * MINUTE),
    LogLimits(reject_old_samples=False),
    block_range_ns=10 * MINUTE,
    compaction_range_ns=60 * MINUTE,
    retention_ns=0,
    wal_segment_size=8192,
)
k = int(sys.argv[2])
store = LogStore.open(sys.argv[1], options, clock=lambda: k * 60.0)
streams = [Labels.from_dict({"job": "crash", "i": str(i)}) for i in range(3)]
while True:
    push = [
        Entries(labels, np.full(2, k * MINUTE), Lines.of([f"{k} a", f"{k} b"]))
        for labels in streams
    ]
    result = store.push(push)
    assert not result.discarded, result
    print(k, flush=True)
    if k % 7 == 0:
        store.tick()
    k += 1
"""

MINUTE = 60 * 10**9
OPTIONS = LogStoreOptions(
    HeadOptions(chunk_target_bytes=500, out_of_order_window_ns=5 * MINUTE),
    LogLimits(reject_old_samples=False),
    block_range_ns=10 * MINUTE,
    compaction_range_ns=60 * MINUTE,
    retention_ns=0,
    wal_segment_size=8192,
)


def _stored(path: Path) -> dict[str, list[int]]:
    with LogStore.open(path, OPTIONS) as store:
        found: dict[str, list[int]] = {}
        for entries in store.querier(0, 2**62).select([]):
            ks = [int(line.split()[0]) for line in entries.lines]
            assert [k * MINUTE for k in ks] == entries.timestamps.tolist(), "lines follow times"
            found.setdefault(entries.labels.get("i"), []).extend(ks)
        return found


def test_kill_9_never_loses_an_acknowledged_push(tmp_path: Path) -> None:
    rng = np.random.default_rng(int(os.environ.get("VIGIL_CRASH_SEED", "5")))
    acked = -1
    data = tmp_path / "logs"
    for iteration in range(12):
        errors = (tmp_path / "stderr").open("w+")
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), str(acked + 1)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert child.stdout is not None
        for _ in range(int(rng.integers(1, 150))):
            line = child.stdout.readline()
            if not line:
                child.wait()
                errors.seek(0)
                pytest.fail(f"writer died on its own: {errors.read()}")
            acked = int(line)
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()
        child.wait()
        errors.close()
        acked = max([acked, *(int(line) for line in rest.split())])
        stored = _stored(data)
        assert sorted(stored) == ["0", "1", "2"]
        for i, ks in stored.items():
            # Every acknowledged push (two lines each), at most the one in flight, nothing twice.
            want = [k for k in range(acked + 1) for _ in range(2)]
            assert ks[: len(want)] == want, f"stream {i} after kill {iteration}"
            assert len(ks) - len(want) in (0, 2), f"stream {i} after kill {iteration}"
    levels = {read_meta(p).level for p in data.iterdir() if is_ulid(p.name)}
    assert {1, 2} <= levels, "the pushes went through flushes and compactions"
