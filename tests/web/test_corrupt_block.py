"""A corrupt block seen through the HTTP API: queries, series and label requests that need it
answer 422 `execution` naming the block, never a bare 500; those that do not are answered;
the log gets one line and /metrics counts the block."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from vigil.cmd.server_process import Server, ServerOptions
from vigil.model import Labels
from vigil.tsdb import SeriesData
from vigil.tsdb.block import write_block
from vigil.tsdb.index import CHUNKS_FILE, INDEX_FILE

H = 3_600_000


def _block(data: Path, start: int) -> Path:
    ts = start + np.arange(0, 2 * H, 60_000, dtype=np.int64)
    series = [
        SeriesData(Labels.from_dict({"__name__": name, "job": "j"}), ts, np.ones(len(ts)))
        for name in ("a", "b")
    ]
    return write_block(data, series, start, start + 2 * H - 1)


@pytest.mark.parametrize("file", [CHUNKS_FILE, INDEX_FILE])
def test_a_corrupt_block_answers_422_naming_it_and_other_ranges_still_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, file: str
) -> None:
    data = tmp_path / "data"
    # Recent enough that the default 15 d retention keeps them.
    start = (int(time.time() * 1000) // (2 * H) - 4) * 2 * H
    _block(data, start)
    bad = _block(data, start + 2 * H)
    damaged = bytearray((bad / file).read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    (bad / file).write_bytes(bytes(damaged))
    in_bad = (start + 3 * H) / 1000
    in_good = (start + H) / 1000
    server = Server(ServerOptions(data_dir=data, host_collectors=False))
    with caplog.at_level(logging.WARNING), TestClient(server.app()) as client:
        answers = [
            client.get("/api/v1/query", params={"query": 'sum({job="j"})', "time": in_bad}),
            client.get(
                "/api/v1/query_range",
                params={"query": '{job="j"}', "start": in_good, "end": in_bad, "step": "60"},
            ),
            client.get("/api/v1/query", params={"query": 'count({job="j"})', "time": in_bad + 60}),
        ]
        good_answer = client.get("/api/v1/query", params={"query": "a", "time": in_good})
        metrics = client.get("/metrics").text
        series = client.get(
            "/api/v1/series", params={"match[]": "a", "start": in_bad, "end": in_bad}
        )
    for answer in answers:
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert (body["status"], body["errorType"]) == ("error", "execution")
        assert f"corrupt block {bad}: {file}: " in body["error"]
    assert good_answer.status_code == 200
    assert good_answer.json()["data"]["result"] == [
        {"metric": {"__name__": "a", "job": "j"}, "value": [in_good, "1"]}
    ]
    assert "\nvigil_tsdb_blocks_corrupt 1\n" in metrics
    if file == INDEX_FILE:  # the chunks are not read for series
        assert (series.status_code, series.json()["errorType"]) == (422, "execution")
        assert bad.name in series.json()["error"]
    logged = [r for r in caplog.records if "corrupt block" in r.getMessage()]
    assert [(r.name, r.exc_info) for r in logged] == [("vigil.tsdb.block", None)]
