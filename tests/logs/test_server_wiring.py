"""The server opens the log store where the flags say, serves it once open, and closes it
on stop (the store's lock is free again)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from vigil.cmd import build_parser
from vigil.cmd.disk_budget import split_disk_budget
from vigil.cmd.server_flags import options
from vigil.cmd.server_process import Server
from vigil.logs import Entries, Lines, PushResult
from vigil.logs.store import LogStore
from vigil.model import Labels
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


@pytest.mark.parametrize(
    ("flags", "tsdb", "logs"),
    [
        ([], 0, 0),
        (["--storage.tsdb.retention.size=1GB"], GB, 0),
        (["--storage.total-retention.size=4GB"], 2 * GB, 2 * GB),
        (["--storage.total-retention.size=4GB", "--storage.tsdb.retention.size=1GB"], GB, 3 * GB),
    ],
)
def test_the_total_disk_budget_is_split_between_tsdb_and_logs(
    tmp_path: Path, flags: list[str], tsdb: int, logs: int
) -> None:
    args = build_parser().parse_args(["server", f"--storage.tsdb.path={tmp_path}", *flags])
    server = Server(options(args))
    assert (server._tsdb_options().retention_bytes, server.logs.options.retention_bytes) == (
        tsdb,
        logs,
    )
    server.storage.close()


def test_a_tsdb_share_not_below_the_total_is_refused() -> None:
    with pytest.raises(ValueError, match="total-retention"):
        split_disk_budget(GB, GB)
