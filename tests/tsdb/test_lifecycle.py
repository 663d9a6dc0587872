"""The TSDB's lifecycle seams: blocks outlive a tick while a querier reads them, the "batch"
fsync timer, and WAL replay progress."""

from __future__ import annotations

import errno
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import PATIENCE_S
from vigil.model import Labels
from vigil.tsdb.block import TMP_DELETION
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.wal import encode_samples
from vigil.tsdb.wlog import WAL


def _fill(db: TSDB, timestamps: range) -> None:
    app = db.appender()
    [ref] = app.refs_for([Labels.from_dict({"__name__": "m"})]).tolist()
    ts = np.array(timestamps, dtype=np.int64)
    app.append_batch(np.full(len(ts), ref, dtype=np.int64), ts, ts.astype(np.float64))
    app.commit()


def test_querier_keeps_a_block_that_retention_deletes_until_it_closes(tmp_path: Path) -> None:
    now = [1.0]
    options = TSDBOptions(block_range_ms=1000, retention_ms=3000, max_series=0, wal_fsync="never")
    with TSDB.open(tmp_path, options, clock=lambda: now[0], registry=CollectorRegistry()) as db:
        _fill(db, range(0, 4000, 100))
        db.tick()
        oldest = db.blocks[0]
        querier = db.querier(0, 999)
        now[0] = 100.0
        assert oldest.path in db.tick().blocks_deleted
        assert db.blocks == [] and not oldest.path.exists()
        [series] = querier.select([])
        assert series.timestamps.tolist() == list(range(0, 1000, 100))
        doomed = oldest.path.with_name(oldest.path.name + TMP_DELETION)
        assert doomed.is_dir()
        querier.close()
        assert not doomed.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["lock", "wal"]


def test_a_block_deleted_under_a_querier_is_gone_after_a_crash(tmp_path: Path) -> None:
    options = TSDBOptions(block_range_ms=1000, retention_ms=3000, max_series=0, wal_fsync="never")
    with TSDB.open(tmp_path, options, clock=lambda: 1.0, registry=CollectorRegistry()) as db:
        _fill(db, range(0, 4000, 100))
        db.tick()
        [first, *_] = db.blocks
        querier = db.querier(0, 999)
        db._delete(first)  # what retention does; the querier is never closed (a crash)
        assert querier.label_names() == ["__name__"]
    with TSDB.open(tmp_path, options, clock=lambda: 4.0, registry=CollectorRegistry()) as db:
        assert first.meta.ulid not in [b.meta.ulid for b in db.blocks]
        assert not any(p.name.endswith(TMP_DELETION) for p in tmp_path.iterdir())


def test_batch_fsync_runs_once_the_oldest_write_is_an_interval_old(tmp_path: Path) -> None:
    now = [0.0]
    wal = WAL(tmp_path, fsync="batch", clock=lambda: now[0], sync_interval_s=1.0)
    record = encode_samples(*(np.zeros(1, dtype=np.int64),) * 2, np.zeros(1))
    assert not wal.sync_if_due()  # nothing written
    wal.log([record])
    now[0] = 0.5
    wal.log([record])
    assert (wal.sync_if_due(), wal.unsynced_bytes > 0) == (False, True)
    now[0] = 1.0  # the first write is 1 s old
    assert (wal.sync_if_due(), wal.unsynced_bytes) == (True, 0)
    now[0] = 5.0
    assert not wal.sync_if_due()  # synced, nothing new
    wal.log([record])
    now[0] = 5.9
    assert not wal.sync_if_due()
    now[0] = 6.0
    assert wal.sync_if_due()
    wal.close()


def test_batch_fsync_waits_as_long_as_the_oldest_unsynced_write_needs(tmp_path: Path) -> None:
    now = [0.0]
    wal = WAL(tmp_path, fsync="batch", clock=lambda: now[0], sync_interval_s=1.0)
    record = encode_samples(*(np.zeros(1, dtype=np.int64),) * 2, np.zeros(1))
    waits = [wal.sync_wait()]  # nothing written: until the next write
    wal.log([record])
    now[0] = 0.25
    wal.log([record])
    waits.append(wal.sync_wait())
    now[0] = 3.0  # overdue (a failing fsync): retried every tenth of the interval
    waits.append(wal.sync_wait())
    wal.sync()
    waits.append(wal.sync_wait())
    assert waits == [None, 0.75, 0.1, None]
    wal.close()


def test_a_write_wakes_the_sleeping_flusher_and_stop_waiting_ends_it(tmp_path: Path) -> None:
    wal = WAL(tmp_path, fsync="batch", sync_interval_s=3600.0)
    record = encode_samples(*(np.zeros(1, dtype=np.int64),) * 2, np.zeros(1))
    woken: list[bool] = []
    flusher = threading.Thread(target=lambda: woken.append(wal.await_sync()))
    flusher.start()  # nothing written: asleep until a write
    wal.log([record])
    flusher.join(PATIENCE_S)
    wal.stop_waiting()
    assert (woken, wal.await_sync()) == ([True], False)
    wal.close()


def test_tsdb_fsyncs_batched_writes_in_the_background(tmp_path: Path) -> None:
    options = TSDBOptions(max_series=0, wal_fsync="batch", wal_fsync_interval_s=0.01)
    with TSDB.open(tmp_path, options, registry=CollectorRegistry()) as db:
        synced = threading.Event()
        sync = db.wal.sync

        def observed_sync() -> None:
            sync()
            synced.set()

        db.wal.sync = observed_sync  # type: ignore[method-assign]
        _fill(db, range(0, 1000, 100))
        assert synced.wait(10)
        assert db.wal.unsynced_bytes == 0


def test_a_failing_background_fsync_is_logged_once_not_per_retry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = TSDBOptions(max_series=0, wal_fsync="batch", wal_fsync_interval_s=0.001)
    with TSDB.open(tmp_path, options, registry=CollectorRegistry()) as db:
        tries = threading.Semaphore(0)
        failing = threading.Event()
        failing.set()
        sync = db.wal.sync

        def flaky() -> None:
            if failing.is_set():
                tries.release()
                raise OSError(errno.EIO, "Input/output error")
            sync()

        db.wal.sync = flaky  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="vigil.tsdb.db"):
            _fill(db, range(0, 1000, 100))  # unsynced: the flusher fsyncs until it works
            for _ in range(50):  # fifty retries of the failing fsync
                assert tries.acquire(timeout=PATIENCE_S)
            failing.clear()
            deadline = time.monotonic() + PATIENCE_S
            while "works again" not in caplog.text:
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.01)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "Input/output error" in errors[0], errors


def test_a_failed_compaction_is_counted_and_the_head_keeps_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prometheus_tsdb_compactions_failed_total (VigilStorageProblems reads it) counts a
    head cut that could not write its block; the samples stay in the head for the next try."""
    registry = CollectorRegistry()
    options = TSDBOptions(block_range_ms=1000, max_series=0, wal_fsync="never")
    with TSDB.open(tmp_path, options, clock=lambda: 4.0, registry=registry) as db:
        _fill(db, range(0, 4000, 100))

        def full_disk(*_: object, **__: object) -> Path:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr("vigil.tsdb.db.write_block", full_disk)
        with pytest.raises(OSError, match="No space left"):
            db.tick()
        assert registry.get_sample_value("prometheus_tsdb_compactions_failed_total") == 1
        assert db.blocks == [] and db.head.min_time == 0
        monkeypatch.undo()
        db.tick()
        assert registry.get_sample_value("prometheus_tsdb_compactions_failed_total") == 1
        assert len(db.blocks) >= 1


def test_replay_reports_progress_per_file(tmp_path: Path) -> None:
    options = TSDBOptions(max_series=0, wal_fsync="never", wal_segment_size=1)
    for start in range(0, 3000, 1000):  # one segment per open: 3 segments, then an empty one
        with TSDB.open(tmp_path, options, registry=CollectorRegistry()) as db:
            _fill(db, range(start, start + 1000, 100))
    seen: list[tuple[int, int]] = []
    with TSDB.open(
        tmp_path,
        options,
        registry=CollectorRegistry(),
        on_replay_progress=lambda done, total: seen.append((done, total)),
    ) as db:
        total = seen[-1][1]
        assert seen == [(done, total) for done in range(total + 1)] and total >= 3
        [series] = db.querier(0, 3000).select([])
        assert len(series.timestamps) == 30
