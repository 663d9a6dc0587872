"""Crash safety for real: a writer process is `kill -9`ed at random moments (mid-commit,
mid-block-write, mid-checkpoint); every commit it acknowledged must be there after replay,
its native histogram sample as well as its floats."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.tsdb.db import TSDB, TSDBOptions

# Small block range and segments: cuts, checkpoints and segment switches happen constantly.
WRITER = """
import sys
import numpy as np
from prometheus_client import CollectorRegistry
from vigil.model import Labels
from vigil.model.histogram import FloatHistogram, Span
from vigil.tsdb.db import TSDB, TSDBOptions

options = TSDBOptions(block_range_ms=1000, max_series=0, wal_segment_size=8192, wal_fsync="batch")
k = int(sys.argv[2])
db = TSDB.open(sys.argv[1], options, clock=lambda: k / 10, registry=CollectorRegistry())
labels = [Labels.from_dict({"__name__": "crash", "i": str(i)}) for i in range(5)]
histogram_labels = Labels.from_dict({"__name__": "crash_h", "i": "h"})
appender = db.appender()
refs = appender.refs_for(labels)
while True:
    appender.append_batch(refs, np.full(5, k * 100), np.full(5, float(k)))
    h = FloatHistogram(count=k, sum=k, positive_spans=(Span(0, 1),), positive_buckets=(k,))
    appender.append_histogram(histogram_labels, k * 100, h)
    appender.commit()
    print(k, flush=True)
    if k % 7 == 0:
        db.tick()
    k += 1
"""

OPTIONS = TSDBOptions(block_range_ms=1000, max_series=0, wal_segment_size=8192, wal_fsync="batch")


def _stored(path: Path) -> dict[str, list[int]]:
    with TSDB.open(path, OPTIONS, registry=CollectorRegistry()) as db:
        found = {}
        for series in db.querier(-(10**12), 10**12).select([]):
            values = series.values
            if series.histograms is not None:
                values = np.array([h.sum for h in series.histograms])
            assert np.array_equal(values, series.timestamps / 100), "values follow timestamps"
            found[series.labels.get("i")] = (series.timestamps // 100).tolist()
        return found


@pytest.mark.slow
def test_kill_9_never_loses_an_acknowledged_commit(tmp_path: Path) -> None:
    rng = np.random.default_rng(int(os.environ.get("VIGIL_CRASH_SEED", "5")))
    deadline = time.monotonic() + 30
    acked = -1
    iterations = 0
    data = tmp_path / "data"
    while iterations < 25 and (iterations < 20 or time.monotonic() < deadline):
        iterations += 1
        errors = (tmp_path / "stderr").open("w+")
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), str(acked + 1)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert child.stdout is not None
        for _ in range(int(rng.integers(1, 120))):
            line = child.stdout.readline()
            if not line:
                child.wait()
                errors.seek(0)
                pytest.fail(f"writer died on its own: {errors.read()}")
            acked = int(line)
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()  # acknowledgements printed while we were reading
        child.wait()
        errors.close()
        acked = max([acked, *(int(line) for line in rest.split())])
        stored = _stored(data)
        assert sorted(stored) == ["0", "1", "2", "3", "4", "h"]
        for i, ks in stored.items():
            # Every acknowledged commit, at most the one in flight beyond it, nothing twice.
            assert ks[: acked + 1] == list(range(acked + 1)), f"series {i} after kill {iterations}"
            assert len(ks) - (acked + 1) in (0, 1), f"series {i} after kill {iterations}"
    assert iterations >= 20
