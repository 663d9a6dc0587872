"""TSDB: the property that any history of appends, commits, rollbacks, head cuts and restarts
reads back exactly the committed samples (bit-exact), and the data dir's guard rails."""

from __future__ import annotations

import errno
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from vigil.model import Labels, Matcher
from vigil.tsdb import STALE_NAN
from vigil.tsdb.db import TSDB, DataDirError, TSDBOptions
from vigil.tsdb.limits import HEAD_BYTES_PER_SERIES, default_max_series, memory_limit_bytes

RANGE_MS = 1000
SERIES = [
    Labels.from_dict({"__name__": "a", "job": "x"}),
    Labels.from_dict({"__name__": "a", "job": "y"}),
    Labels.from_dict({"__name__": "a"}),
    Labels.from_dict({"__name__": "b", "job": "x", "code": "200"}),
    Labels.from_dict({"__name__": "b", "job": "y", "code": "500"}),
    Labels.from_dict({"__name__": "c_total"}),
]
VALUES = [
    0.0,
    -0.0,
    1.5,
    float("inf"),
    float("-inf"),
    STALE_NAN,
    struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000ABC))[0],
]
MATCHERS = [
    Matcher.of("__name__", "=", "a"),
    Matcher.of("__name__", "=~", "a|b"),
    Matcher.of("__name__", "!~", "c.*"),
    Matcher.of("job", "=", "x"),
    Matcher.of("job", "!=", "x"),
    Matcher.of("job", "=~", "y|"),
    Matcher.of("job", "=", ""),
    Matcher.of("code", "=~", "[0-9]+"),
]


def _bits(value: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])


@dataclass
class Model:
    """Prometheus's acceptance rules, one sample at a time, and nothing else."""

    samples: dict[Labels, dict[int, int]] = field(default_factory=dict)
    last: dict[Labels, tuple[int, int]] = field(default_factory=dict)
    max_t: int | None = None
    min_valid: int = -(2**63)

    def commit(self, transaction: list[tuple[Labels, int, int]]) -> None:
        bound = (
            self.min_valid
            if self.max_t is None
            else max(self.min_valid, self.max_t - RANGE_MS // 2)
        )
        for labels, t, bits in transaction:
            last = self.last.get(labels)
            if t >= bound and (last is None or t > last[0]):
                self.samples.setdefault(labels, {})[t] = bits
                self.last[labels] = (t, bits)
                self.max_t = t if self.max_t is None else max(self.max_t, t)

    def tick(self) -> None:
        while self.max_t is not None:
            head = [t for series in self.samples.values() for t in series if t >= self.min_valid]
            if not head or self.max_t - min(head) <= RANGE_MS * 3 // 2:
                return
            self.min_valid = min(head) - min(head) % RANGE_MS + RANGE_MS

    def select(
        self, matchers: list[Matcher], mint: int, maxt: int
    ) -> dict[Labels, list[tuple[int, int]]]:
        found = {}
        for labels, series in self.samples.items():
            if all(m.matches_labels(labels) for m in matchers):
                kept = sorted((t, b) for t, b in series.items() if mint <= t <= maxt)
                if kept:
                    found[labels] = kept
        return found


def _select(
    db: TSDB, matchers: list[Matcher], mint: int, maxt: int
) -> dict[Labels, list[tuple[int, int]]]:
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.view(np.uint64).tolist(), strict=True))
        for s in db.querier(mint, maxt).select(matchers)
    }


OPTIONS = TSDBOptions(
    block_range_ms=RANGE_MS, max_series=0, wal_fsync="never", wal_segment_size=400
)

OFFSETS = [-700, -300, -100, -20, -10, 0, 0, 0, 10, 30]  # sample time relative to the clock
transaction = st.tuples(
    st.just("transaction"),
    st.integers(0, 24).map(lambda steps: steps * 50),  # how far the clock moves first
    st.lists(
        st.tuples(
            st.integers(0, len(SERIES) - 1),
            st.sampled_from(OFFSETS),
            st.integers(0, len(VALUES) - 1),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["commit", "commit", "commit", "rollback", "abandon"]),
)
steps = st.lists(
    st.one_of(transaction, transaction, st.just(("tick",)), st.just(("restart",))),
    min_size=8,
    max_size=30,
)
queries = st.lists(
    st.tuples(
        st.lists(st.sampled_from(MATCHERS), max_size=2),
        st.integers(-100, 15_000),
        st.integers(0, 15_000),
    ),
    max_size=4,
)
Step = tuple[object, ...]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=steps, checks=queries)
def test_reads_return_exactly_the_committed_samples(
    history: list[Step], checks: list[tuple[list[Matcher], int, int]]
) -> None:
    model = Model()
    clock = 1000
    now = [clock]  # what the TSDB's clock reads (seconds = ms / 1000), for retention
    checks = [([], -(10**15), 2 * 10**15), *checks]
    with tempfile.TemporaryDirectory() as tmp:
        db = TSDB.open(tmp, OPTIONS, clock=lambda: now[0] / 1000, registry=CollectorRegistry())
        try:
            for step in history:
                if step[0] == "transaction":
                    _, advance, appends, outcome = step
                    assert isinstance(advance, int) and isinstance(appends, list)
                    clock += advance
                    now[0] = clock
                    appender = db.appender()
                    pending = []
                    for series, offset, value in appends:
                        appender.append(SERIES[series], clock + offset, VALUES[value])
                        pending.append((SERIES[series], clock + offset, _bits(VALUES[value])))
                    if outcome == "commit":
                        appender.commit()
                        model.commit(pending)
                    elif outcome == "rollback":
                        appender.rollback()
                elif step[0] == "tick":
                    db.tick()
                    model.tick()
                else:  # restart = WAL replay; an abandoned transaction is lost, as in a crash
                    db.close()
                    db = TSDB.open(
                        tmp, OPTIONS, clock=lambda: now[0] / 1000, registry=CollectorRegistry()
                    )
            for matchers, mint, span in checks:
                assert _select(db, matchers, mint, mint + span) == model.select(
                    matchers, mint, mint + span
                )
        finally:
            db.close()


def test_second_open_of_a_data_dir_is_refused(tmp_path: Path) -> None:
    with (
        TSDB.open(tmp_path, OPTIONS, registry=CollectorRegistry()),
        pytest.raises(DataDirError, match=f"lock file {tmp_path / 'lock'} is held"),
    ):
        TSDB.open(tmp_path, OPTIONS, registry=CollectorRegistry())
    TSDB.open(tmp_path, OPTIONS, registry=CollectorRegistry()).close()


def test_data_dir_is_created_or_the_error_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = tmp_path / "a" / "b"
    TSDB.open(nested, OPTIONS, registry=CollectorRegistry()).close()
    assert (nested / "wal").is_dir()

    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(
        DataDirError, match=f"cannot create data dir {tmp_path / 'c'}: permission denied"
    ):
        TSDB.open(tmp_path / "c", OPTIONS, registry=CollectorRegistry())


def _fill(db: TSDB, names: list[str], times: range) -> None:
    appender = db.appender()
    refs = appender.refs_for(
        [Labels.from_dict({"__name__": n, "i": str(i)}) for i, n in enumerate(names)]
    )
    for t in times:
        appender.append_batch(refs, np.full(len(refs), t), np.ones(len(refs)))
        appender.commit()


def test_stats_and_self_metrics(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    options = TSDBOptions(max_series=4, wal_fsync="always")
    with TSDB.open(tmp_path, options, registry=registry) as db:
        _fill(db, ["up", "up", "load", "up", "mem", "mem"], range(0, 30_000, 15_000))
        stats = db.stats()
        assert (stats.head_series, stats.series_count_by_metric_name) == (
            4,
            [("up", 3), ("load", 1)],
        )
        assert stats.refused_series_by_metric_name == [("mem", 2)]
        assert stats.series_count_by_label_value_pair[0] == ("__name__=up", 3)
    value = registry.get_sample_value
    assert value("prometheus_tsdb_head_series") == 4
    assert value("prometheus_tsdb_head_samples_appended_total", {"type": "float"}) == 8
    assert value("vigil_tsdb_head_series_refused_total") == 2
    assert value("prometheus_tsdb_wal_fsync_duration_seconds_count") >= 2
    assert value("prometheus_tsdb_head_chunks") == 4


def test_tick_cuts_blocks_and_applies_retention(tmp_path: Path) -> None:
    options = TSDBOptions(block_range_ms=1000, retention_ms=3000, max_series=0, wal_fsync="never")
    with TSDB.open(tmp_path, options, clock=lambda: 7.9, registry=CollectorRegistry()) as db:
        _fill(db, ["m"], range(0, 8000, 100))
        report = db.tick()
        ranges = [(b.meta.mint, b.meta.maxt) for b in db.blocks]
        [series] = db.querier(0, 10_000).select([])
        # Cut while the head spans > 1.5 ranges: [0, 999] … [6000, 6999]; the head keeps 7000+.
        # Retention (the clock says 7900 ms) drops blocks ending before 4900.
        assert (len(report.blocks_written), len(report.blocks_deleted)) == (7, 4)
        assert ranges == [(4000, 4999), (5000, 5999), (6000, 6999)]
        assert series.timestamps.tolist() == list(range(4000, 8000, 100))
        assert db.head.min_time == 7000
    options = TSDBOptions(block_range_ms=1000, retention_bytes=1, max_series=0, wal_fsync="never")
    with TSDB.open(tmp_path, options, registry=CollectorRegistry()) as db:
        assert len(db.tick().blocks_deleted) == 3
        assert db.blocks == []


@pytest.mark.parametrize(("cache_bytes", "kept"), [(1 << 20, 3), (0, None)])
def test_block_cache_option(tmp_path: Path, cache_bytes: int, kept: int | None) -> None:
    """Queries keep decoded block series in a cache of `block_cache_bytes` (0: none), shared
    by the blocks the TSDB opens and the ones its ticks write."""
    options = TSDBOptions(
        block_range_ms=1000, max_series=0, wal_fsync="never", block_cache_bytes=cache_bytes
    )
    with TSDB.open(tmp_path, options, clock=lambda: 3.9, registry=CollectorRegistry()) as db:
        _fill(db, ["m"], range(0, 4000, 100))
        db.tick()
        assert len(db.blocks) == 3
        [fresh] = db.querier(0, 10_000).select([])
        assert (len(db.block_cache) if db.block_cache is not None else None) == kept
    with TSDB.open(tmp_path, options, registry=CollectorRegistry()) as db:
        [reopened] = db.querier(0, 10_000).select([])
        assert (len(db.block_cache) if db.block_cache is not None else None) == kept
    assert fresh.timestamps.tolist() == reopened.timestamps.tolist() == list(range(0, 4000, 100))


_V2_SELF = {
    "proc/self/cgroup": "0::/\n",
    "proc/self/mountinfo": "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
}
_V1_SELF = {
    "proc/self/cgroup": "4:memory:/\n",
    "proc/self/mountinfo": "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
}
LIMIT_CASES = [
    ("cgroup v2", {**_V2_SELF, "sys/fs/cgroup/memory.max": "1073741824\n"}, 1 << 30),
    ("cgroup v2 unlimited", {**_V2_SELF, "sys/fs/cgroup/memory.max": "max\n"}, 4 << 30),
    (
        "cgroup v1",
        {**_V1_SELF, "sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n"},
        512 << 20,
    ),
    (
        "cgroup v1 unlimited",
        {**_V1_SELF, "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"},
        4 << 30,
    ),
    ("no cgroup", {}, 4 << 30),
]


@pytest.mark.parametrize(("name", "files", "want"), LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_memory_limit_detection(
    tmp_path: Path, name: str, files: dict[str, str], want: int
) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemTotal:        4194304 kB\nMemFree: 1 kB\n")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert memory_limit_bytes(tmp_path) == want
    assert default_max_series(want) == want // 2 // HEAD_BYTES_PER_SERIES
