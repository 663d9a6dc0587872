"""Forwarding the log store to an external Loki-push endpoint from its WAL: every accepted
push delivered, retried through an outage, resumed after a restart without repeats."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from tests.notify.capture import HTTPCapture, http_capture
from vigil.logs import Entries, Lines
from vigil.logs.forward import ForwardOptions, LogForwarder
from vigil.logs.service import LogStorage
from vigil.logs.store import LogStoreOptions
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.tsdb.wlog import list_segments, segment_index

APP = Labels.from_dict({"job": "app", "service_name": "app"})


def _push(storage: LogStorage, first: int, n: int, t0: float) -> None:
    stamps = np.array([int((t0 + i) * 1e9) for i in range(n)], dtype=np.int64)
    meta = tuple(Labels.from_dict({"trace_id": f"t{first + i}"}) for i in range(n))
    lines = Lines.of([f"line {first + i}" for i in range(n)])
    assert not storage.push([Entries(APP, stamps, lines, meta)]).discarded


def _received(capture: HTTPCapture) -> list[tuple[dict[str, str], str, dict[str, str]]]:
    out = []
    for request in capture.requests:
        body = orjson.loads(gzip.decompress(request.body))
        for stream in body["streams"]:
            for value in stream["values"]:
                out.append((stream["stream"], value[1], value[2] if len(value) > 2 else {}))
    return out


def test_forwarded_through_an_outage_and_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    storage = LogStorage(tmp_path / "logs", LogStoreOptions(), clock, CollectorRegistry())
    asyncio.run(storage.start())
    try:
        position = tmp_path / "forward.json"
        with http_capture([503, 204]) as loki:
            options = ForwardOptions(url=loki.url("/loki/api/v1/push"))
            forwarder = LogForwarder(
                storage.path / "wal", position, options, CollectorRegistry(), clock.now
            )
            _push(storage, 0, 3, clock.now())
            assert forwarder.tick() == 0  # 503: kept, retried after a back-off
            assert forwarder.last_error.startswith("HTTP 503")
            assert forwarder.tick() == 0 and len(loki.requests) == 1  # backing off
            clock.advance(1)
            assert forwarder.tick() == 3
            _push(storage, 3, 2, clock.now())
            restarted = LogForwarder(
                storage.path / "wal", position, options, CollectorRegistry(), clock.now
            )
            assert restarted.tick() == 2
            assert restarted.tick() == 0
    finally:
        asyncio.run(storage.stop())
    got = _received(loki)
    assert [line for _, line, _ in got] == [f"line {i}" for i in (0, 1, 2, 0, 1, 2, 3, 4)]
    assert got[-1] == (dict(APP), "line 4", {"trace_id": "t4"})


def test_segment_lag_counts_the_wal_segments_not_yet_forwarded(tmp_path: Path) -> None:
    clock = ManualClock()
    options = LogStoreOptions(wal_segment_size=8192)
    storage = LogStorage(tmp_path / "logs", options, clock, CollectorRegistry())
    asyncio.run(storage.start())
    wal = storage.path / "wal"
    registry = CollectorRegistry()
    try:
        with http_capture([503, 204]) as loki:
            forwarder = LogForwarder(
                wal,
                tmp_path / "forward.json",
                ForwardOptions(url=loki.url("/")),
                registry,
                clock.now,
            )
            for k in range(40):
                _push(storage, k * 50, 50, clock.now())
            indexes = [segment_index(p) for p in list_segments(wal)]
            assert len(indexes) > 2
            assert forwarder.tick() == 0  # 503: nothing delivered, still at the first segment
            lag = registry.get_sample_value("vigil_logs_forward_wal_segment_lag")
            assert lag == indexes[-1] - indexes[0]
            clock.advance(1)
            while forwarder.tick():
                pass
    finally:
        asyncio.run(storage.stop())
    # The refused first POST held every line; the retries delivered them all again.
    assert len(_received(loki)) == 2 * 40 * 50
    assert registry.get_sample_value("vigil_logs_forward_wal_segment_lag") == 0
