"""Storage write health: known from the writes' outcomes alone (the WAL reports each one), a
gauge that is 1 exactly while writes fail, and a log of a few lines a minute however many
writes a full disk refuses."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.tsdb.db import TSDB
from vigil.tsdb.wlog import WALWriteError
from vigil.tsdb.write_health import WriteFailure, WriteHealth

START = 1_700_000_000.0


def _gauge(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("vigil_tsdb_writes_failing")


def test_failing_writes_are_logged_once_a_minute_with_their_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(START)
    registry = CollectorRegistry()
    health = WriteHealth(clock.now, registry)
    caplog.set_level(logging.INFO, logger="vigil.tsdb.write_health")
    seen: list[tuple[float | None, WriteFailure | None]] = []

    health.succeeded(30_000)
    seen.append((_gauge(registry), health.failure()))
    for k in range(20):  # 20 writes refused within 40 s: one line
        health.failed("no space left on device", 30_000 - k)
        clock.advance(2)
    health.succeeded(500)  # a rule's few series fit in the last block's slack: still failing
    seen.append((_gauge(registry), health.failure()))
    clock.set(START + 61)
    health.failed("no space left on device", 40_000)  # a minute after the first line: the count
    problem = health.problem()
    clock.advance(9)
    health.succeeded(29_981)  # as big as the smallest that failed: room again
    health.succeeded(30_000)
    seen.append((_gauge(registry), health.failure()))

    assert seen == [
        (0.0, None),
        (1.0, WriteFailure("no space left on device", START, 20)),
        (0.0, None),
    ]
    assert problem == "storage cannot write (no space left on device) for 61s, 21 writes refused"
    assert [r.getMessage() for r in caplog.records] == [
        "storage cannot write (no space left on device): writes are refused until it can; "
        "the storage alert fires and the heartbeat stops",
        "storage still cannot write (no space left on device) after 61s: "
        "20 writes refused in the last 60s",
        "storage writes again after 70s (21 writes refused meanwhile)",
    ]


def test_the_wal_reports_every_write_to_the_tsdb_health(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock(START)
    registry = CollectorRegistry()
    full = [False]
    write = os.write

    def disk(fd: int, data: bytes | memoryview) -> int:
        if full[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(fd, data)

    monkeypatch.setattr(os, "write", disk)
    labels = [Labels.from_dict({"__name__": "up", "job": "a"})]

    def commit(db: TSDB, t_ms: int) -> None:
        appender = db.appender()
        appender.append_batch(appender.refs_for(labels), np.array([t_ms]), np.array([1.0]))
        appender.commit()

    with TSDB.open(tmp_path, clock=clock.now, registry=registry) as db:
        commit(db, int(START * 1000))
        states = [(_gauge(registry), db.write_health.failure())]
        full[0] = True
        with pytest.raises(WALWriteError):
            commit(db, int(START * 1000) + 1000)
        states.append((_gauge(registry), db.write_health.failure()))
        full[0] = False
        commit(db, int(START * 1000) + 2000)
        states.append((_gauge(registry), db.write_health.failure()))
    assert states == [
        (0.0, None),
        (1.0, WriteFailure("no space left on device", START, 1)),
        (0.0, None),
    ]
