"""`/api/v1/status/tsdb` lists the persisted blocks (vigil's own key, for the Status page)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from starlette.testclient import TestClient

from vigil.cmd.server_process import Server, ServerOptions
from vigil.model import Labels
from vigil.tsdb import SeriesData
from vigil.tsdb.block import Block, write_block

H = 3_600_000


def _series(name: str, ts: list[int]) -> SeriesData:
    labels = Labels.from_dict({"__name__": name})
    return SeriesData(labels, np.array(ts, dtype=np.int64), np.ones(len(ts)))


def test_status_tsdb_lists_blocks_oldest_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Recent enough that the default 15 d retention keeps them.
    start = (int(time.time() * 1000) // (2 * H) - 4) * 2 * H
    paths = [
        write_block(data, [_series("a", [start, start + 10])], start, start + 2 * H - 1),
        write_block(
            data,
            [_series("a", [start + 2 * H]), _series("b", [start + 2 * H + 1, start + 2 * H + 2])],
            start + 2 * H,
            start + 4 * H - 1,
        ),
    ]
    want = []
    for path in paths:
        block = Block.open(path)
        want.append(
            {
                "ulid": path.name,
                "minTime": block.meta.mint,
                "maxTime": block.meta.maxt,
                "numSamples": block.meta.num_samples,
                "numSeries": block.meta.num_series,
                "level": 1,
                "size": sum(p.stat().st_size for p in path.rglob("*") if p.is_file()),
            }
        )
        block.close()
    server = Server(ServerOptions(data_dir=data, host_collectors=False))
    with TestClient(server.app()) as client:
        blocks = client.get("/api/v1/status/tsdb").json()["data"]["blocks"]
    assert blocks == want
    assert [(b["numSeries"], b["numSamples"]) for b in blocks] == [(1, 2), (2, 3)]


def test_status_tsdb_without_blocks_lists_none(tmp_path: Path) -> None:
    server = Server(ServerOptions(data_dir=tmp_path / "data", host_collectors=False))
    with TestClient(server.app()) as client:
        assert client.get("/api/v1/status/tsdb").json()["data"]["blocks"] == []
