"""The server opens the log store where the flags say, serves it once open, and closes it
on stop (the store's lock is free again)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from tests.conftest import PATIENCE_S
from vigil.cmd import build_parser
from vigil.cmd.disk_budget import split_disk_budget
from vigil.cmd.server_flags import options
from vigil.cmd.server_process import Server
from vigil.logs import Entries, Lines, PushResult
from vigil.logs.service import LogStorage
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.logs.store_service import TICK_SECONDS
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.tsdb import StorageNotReady


@pytest.mark.parametrize(
    ("flags", "where"),
    [
        ([], "data/logs"),
        (["--logs.storage.path=elsewhere/logs"], "elsewhere/logs"),
    ],
)
def test_logs_live_where_the_flags_say_and_close_with_the_server(
    tmp_path: Path, flags: list[str], where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        ["server", "--storage.tsdb.path=data", "--agent.disable", *flags]
    )
    server = Server(options(args))
    push = [
        Entries(
            Labels.from_dict({"job": "app"}),
            np.array([time.time_ns()], dtype=np.int64),
            Lines.of(["hi"]),
        )
    ]
    with pytest.raises(StorageNotReady):
        server.logs.push(push)
    with TestClient(server.app()) as client:
        assert client.get("/-/healthy").status_code == 200
        assert server.logs.push(push) == PushResult(1, 2)
        shown = client.get("/api/v1/status/flags").json()["data"]["logs.storage.path"]
        assert shown == ("" if not flags else where)
    with LogStore.open(tmp_path / where) as store:
        assert [list(e.lines) for e in store.querier(0, 2**62).select([])] == [[b"hi"]]


GB = 1 << 30
T0_S = 1_700_000_000.0


@pytest.mark.parametrize(
    ("flags", "tsdb", "logs"),
    [
        ([], 0, 0),
        (["--storage.tsdb.retention.size=1GB"], GB, 0),
        (["--storage.total-retention.size=4GB"], 2 * GB, GB),
        (
            ["--storage.total-retention.size=4GB", "--storage.tsdb.retention.size=1GB"],
            GB,
            GB + GB // 2,
        ),
    ],
)
def test_the_total_disk_budget_is_split_between_tsdb_logs_and_traces(
    tmp_path: Path, flags: list[str], tsdb: int, logs: int
) -> None:
    args = build_parser().parse_args(["server", f"--storage.tsdb.path={tmp_path}", *flags])
    server = Server(options(args))
    assert (
        server._tsdb_options().retention_bytes,
        server.logs.options.retention_bytes,
        server.traces.options.retention_bytes,
    ) == (tsdb, logs, logs)
    server.storage.close()


def test_the_ingestion_rate_flags_reach_the_stores_limits(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [
            "server",
            f"--storage.tsdb.path={tmp_path}",
            "--logs.ingestion-rate-mb=32",
            "--logs.ingestion-burst-size-mb=48",
        ]
    )
    server = Server(options(args))
    limits = server.logs.options.limits
    assert (limits.ingestion_rate_mb, limits.ingestion_burst_size_mb) == (32.0, 48.0)
    server.storage.close()


def test_a_tsdb_share_not_below_the_total_is_refused() -> None:
    with pytest.raises(ValueError, match="total-retention"):
        split_disk_budget(GB, GB)


def test_the_server_ticks_the_log_store_on_its_clock(tmp_path: Path) -> None:
    clock = ManualClock(start=T0_S)
    storage = LogStorage(tmp_path, LogStoreOptions(retention_ns=0), clock, CollectorRegistry())
    line = Entries(
        Labels.from_dict({"job": "app"}), np.array([int((T0_S - 4 * 3600) * 1e9)]), Lines.of(["x"])
    )

    async def run() -> list[int]:
        await storage.start()
        maintain = asyncio.get_running_loop().create_task(storage.maintain())
        storage.push([line])
        levels = []
        deadline = time.monotonic() + PATIENCE_S
        while not levels and time.monotonic() < deadline:
            clock.advance(TICK_SECONDS)
            await asyncio.sleep(0.05)
            levels = [b.meta.level for b in storage.store.blocks.blocks]
        maintain.cancel()
        await storage.stop()
        return levels

    assert asyncio.run(run()) == [1]
