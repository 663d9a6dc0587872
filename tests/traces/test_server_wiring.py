"""The server opens the span store where the flags say, with their retention, serves it
once open, and closes it on stop (the store's lock is free again)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.traces.corpus import corpus, trace_id
from vigil.cmd import build_parser
from vigil.cmd.server_flags import options
from vigil.cmd.server_process import Server
from vigil.traces import AppendResult, Spans
from vigil.traces.store import DAY_NS, TraceStore
from vigil.tsdb import StorageNotReady

T0 = 1_700_000_000 * 10**9


@pytest.mark.parametrize(
    ("flags", "where", "retention_ns"),
    [
        ([], "data/traces", 7 * DAY_NS),
        (
            ["--traces.storage.path=elsewhere/traces", "--traces.retention.time=2d"],
            "elsewhere/traces",
            2 * DAY_NS,
        ),
    ],
)
def test_traces_live_where_the_flags_say_and_close_with_the_server(
    tmp_path: Path,
    flags: list[str],
    where: str,
    retention_ns: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        ["server", "--storage.tsdb.path=data", "--agent.disable", *flags]
    )
    server = Server(options(args))
    assert server.traces.options.retention_ns == retention_ns
    spans = Spans.of(corpus(1, T0, 1))
    with pytest.raises(StorageNotReady, match=r"^span store not ready: opening the span store"):
        server.traces.append(spans)
    with TestClient(server.app()) as client:
        assert client.get("/-/healthy").status_code == 200
        assert server.traces.append(spans) == AppendResult(len(spans))
        assert server.traces.querier(0, 2**62).services() == ["db", "shop"]
        metrics = client.get("/metrics").text.splitlines()
        assert f"vigil_traces_appended_spans_total {len(spans)}" in metrics
    with TraceStore.open(tmp_path / where) as store:
        assert len(store.querier(0, 2**62).trace(trace_id(0))) == len(spans)
