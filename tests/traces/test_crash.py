"""Crash safety for real: an appending process is `kill -9`ed at random moments (mid-append,
mid-segment, mid-flush into blocks, mid-checkpoint, mid-compaction); every append it
acknowledged must be there after the store is opened again, a trace's spans once each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vigil.traces.block import read_meta
from vigil.traces.head import HeadOptions
from vigil.traces.store import TraceStore, TraceStoreOptions
from vigil.tsdb.block import is_ulid

pytestmark = pytest.mark.slow

MINUTE = 60 * 10**9
# Small segments, pages and block ranges: segment switches, page merges, flushes into
# blocks, checkpoints and compactions happen constantly.
OPTIONS = TraceStoreOptions(
    HeadOptions(page_spans=16, out_of_order_window_ns=5 * MINUTE),
    block_range_ns=10 * MINUTE,
    compaction_range_ns=60 * MINUTE,
    retention_ns=0,
    wal_segment_size=8192,
)
WRITER = """
import sys
from vigil.traces import Span, Spans
from vigil.traces.head import HeadOptions
from vigil.traces.store import TraceStore, TraceStoreOptions

MINUTE = 60 * 10**9
options = TraceStoreOptions(
    HeadOptions(page_spans=16, out_of_order_window_ns=5 * MINUTE),
    block_range_ns=10 * MINUTE,
    compaction_range_ns=60 * MINUTE,
    retention_ns=0,
    wal_segment_size=8192,
)
k = int(sys.argv[2])
store = TraceStore.open(sys.argv[1], options, clock=lambda: k * 60.0)
while True:
    trace = k.to_bytes(16, "big")
    spans = [
        Span(trace, (3 * k + i + 1).to_bytes(8, "big"), f"op {i}", k * MINUTE + i, k * MINUTE + 9,
             attributes=(("k", k), ("s", "x" * (k % 50))))
        for i in range(3)
    ]
    assert store.append(Spans.of(spans)).accepted == 3
    print(k, flush=True)
    if k % 7 == 0:
        store.tick()
    k += 1
"""


def _stored(path: Path) -> dict[int, int]:
    """Distinct spans per trace k."""
    with TraceStore.open(path, OPTIONS) as store:
        found: dict[int, set[bytes]] = {}
        for spans in store.querier(0, 2**62).select():
            for span in spans.rows():
                k = int.from_bytes(span.trace_id, "big")
                assert span.attributes[0] == ("k", k) and span.start_ns // MINUTE == k
                found.setdefault(k, set()).add(span.span_id)
        return {k: len(ids) for k, ids in found.items()}


def test_kill_9_never_loses_an_acknowledged_append(tmp_path: Path) -> None:
    rng = np.random.default_rng(int(os.environ.get("VIGIL_CRASH_SEED", "5")))
    acked = -1
    data = tmp_path / "traces"
    for iteration in range(8):
        errors = (tmp_path / "stderr").open("w+")
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), str(acked + 1)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert child.stdout is not None
        for _ in range(int(rng.integers(1, 100))):
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
        # Every acknowledged append (three spans each) and at most the one in flight (which
        # the next writer sends again, as an exporter retries: shown once).
        want = dict.fromkeys(range(acked + 1), 3)
        assert {k: n for k, n in stored.items() if k <= acked} == want, f"after kill {iteration}"
        assert set(stored) - set(want) <= {acked + 1}, f"after kill {iteration}"
        assert stored.get(acked + 1, 3) == 3, f"after kill {iteration}"
    levels = {read_meta(p).level for p in data.iterdir() if is_ulid(p.name)}
    assert 2 in levels, "the appends went through flushes into blocks and compactions"
