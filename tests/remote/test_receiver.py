"""`POST /api/v1/write` into a real TSDB: what a valid push stores (bit-exact, staleness markers
included), each kind of bad push answered 400 with a clear message, leaving what was stored
before untouched, and a push the storage cannot take now answered 503 for a retry."""

from __future__ import annotations

import errno
import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cramjam
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.model import Labels, Matcher
from vigil.model.clock import ManualClock
from vigil.remote.prompb import Label, MetricMetadata, Sample, TimeSeries, WriteRequest
from vigil.remote.receiver import (
    DISABLED_MESSAGE,
    RETRY_AFTER_S,
    CommittingAppender,
    ReceiverOptions,
    WriteReceiver,
)
from vigil.tsdb import STALE_NAN, STALE_NAN_BITS, StorageNotReady
from vigil.tsdb.db import TSDB

Points = Sequence[tuple[int, float]]


def _series(labels: dict[str, str], points: Points) -> TimeSeries:
    return TimeSeries(
        labels=[Label(name=k, value=v) for k, v in sorted(labels.items())],
        samples=[Sample(value=v, timestamp=t) for t, v in points],
    )


def _push(*series: TimeSeries, metadata: Sequence[MetricMetadata] = ()) -> bytes:
    raw = WriteRequest(timeseries=series, metadata=metadata).SerializeToString()
    return bytes(cramjam.snappy.compress_raw(raw))


@pytest.fixture
def tsdb(tmp_path: Path) -> Iterator[TSDB]:
    with TSDB.open(tmp_path / "data") as db:
        yield db


def _client(tsdb: TSDB, options: ReceiverOptions | None = None, enabled: bool = True) -> TestClient:
    receiver = WriteReceiver(tsdb.appender, options or ReceiverOptions(), enabled=enabled)
    return TestClient(Starlette(routes=list(receiver.routes())))


def _stored(tsdb: TSDB) -> dict[Labels, list[tuple[int, int]]]:
    """Every series with its (timestamp, value bits) pairs."""
    querier = tsdb.querier(0, 10**13)
    try:
        return {
            s.labels: list(
                zip(s.timestamps.tolist(), s.values.view(np.uint64).tolist(), strict=True)
            )
            for s in querier.select([Matcher.of("__name__", "=~", ".+")])
        }
    finally:
        querier.close()


def _bits(points: Points) -> list[tuple[int, int]]:
    return [(t, int(np.array([v]).view(np.uint64)[0])) for t, v in points]


def _post(client: TestClient, body: bytes) -> tuple[int, str]:
    response = client.post(
        "/api/v1/write",
        content=body,
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        },
    )
    return response.status_code, response.text


UP = {"__name__": "up", "job": "node", "instance": "a:9100"}
LOAD = {"__name__": "node_load1", "instance": "a:9100"}
UP_POINTS: Points = [(1_000, 1.0), (16_000, 0.0), (31_000, STALE_NAN)]
LOAD_POINTS: Points = [(1_000, 0.25), (16_000, math.inf), (31_000, -1e-300)]


def test_a_push_is_stored_exactly(tsdb: TSDB) -> None:
    metadata = [MetricMetadata(type=MetricMetadata.GAUGE, metric_family_name="up", help="h")]
    body = _push(_series(UP, UP_POINTS), _series(LOAD, LOAD_POINTS), metadata=metadata)
    with _client(tsdb) as client:
        assert _post(client, body) == (204, "")
    assert _stored(tsdb) == {
        Labels.from_dict(UP): _bits(UP_POINTS),
        Labels.from_dict(LOAD): _bits(LOAD_POINTS),
    }
    assert _stored(tsdb)[Labels.from_dict(UP)][-1][1] == STALE_NAN_BITS


def test_empty_label_values_are_absent_labels_and_empty_series_store_nothing(tsdb: TSDB) -> None:
    body = _push(_series({**UP, "zone": ""}, UP_POINTS[:1]), _series({"__name__": "nothing"}, []))
    with _client(tsdb) as client:
        assert _post(client, body) == (204, "")
    assert _stored(tsdb) == {Labels.from_dict(UP): _bits(UP_POINTS[:1])}


def _truncated() -> bytes:
    raw = WriteRequest(timeseries=[_series(UP, [(99_000, 1.0)])]).SerializeToString()
    return bytes(cramjam.snappy.compress_raw(raw[:-3]))


def _duplicate_label() -> bytes:
    series = TimeSeries(
        labels=[Label(name="__name__", value="up"), Label(name="job", value="a")] * 2,
        samples=[Sample(value=1, timestamp=99_000)],
    )
    return _push(series)


BIG = WriteRequest(timeseries=[_series(UP, [(99_000 + i, 1.0) for i in range(2_000)])])


def _big() -> bytes:
    return bytes(cramjam.snappy.compress_raw(BIG.SerializeToString()))


@pytest.mark.parametrize(
    ("body", "options", "message"),
    [
        (
            WriteRequest(timeseries=[_series(UP, [(99_000, 1.0)])]).SerializeToString(),
            ReceiverOptions(),
            "body is not snappy-compressed (block format): snappy: corrupt input",
        ),
        (
            b"",
            ReceiverOptions(),
            "body is not snappy-compressed (block format): snappy: corrupt input (empty)",
        ),
        (
            _truncated(),
            ReceiverOptions(),
            "body is not a valid WriteRequest protobuf (truncated or corrupt): timeseries 0 is "
            "truncated",
        ),
        (_duplicate_label(), ReceiverOptions(), "timeseries 0: duplicate label name '__name__'"),
        (
            _big(),
            ReceiverOptions(max_body_bytes=1_000),
            "request too large: body of more than 1000 bytes (the limit)",
        ),
        (
            _big(),
            ReceiverOptions(max_decoded_bytes=10_000),
            f"request too large: {BIG.ByteSize()} bytes decompressed, more than the limit of 10000",
        ),
    ],
    ids=["not-snappy", "empty", "truncated", "duplicate-label", "huge-body", "huge-decoded"],
)
def test_bad_pushes_are_refused_and_lose_nothing(
    tsdb: TSDB, body: bytes, options: ReceiverOptions, message: str
) -> None:
    with _client(tsdb, options) as client:
        assert _post(client, _push(_series(UP, UP_POINTS))) == (204, "")
        before = _stored(tsdb)
        status, text = _post(client, body)
    assert (status, text[: len(message)]) == (400, message)
    assert _stored(tsdb) == before == {Labels.from_dict(UP): _bits(UP_POINTS)}


def test_out_of_order_samples_are_refused_and_the_rest_is_stored(tsdb: TSDB) -> None:
    new = {"__name__": "up", "job": "other"}
    body = _push(
        _series(UP, [(500, 1.0), (31_000, 5.0), (40_000, 1.0)]),  # older, clashing, newer
        _series(new, [(2_000, 1.0)]),
    )
    with _client(tsdb) as client:
        assert _post(client, _push(_series(UP, UP_POINTS))) == (204, "")
        status, text = _post(client, body)
    assert (status, text) == (
        400,
        "2 of 4 samples refused (1 duplicate sample for timestamp, 1 out of order); 2 stored",
    )
    assert _stored(tsdb) == {
        Labels.from_dict(UP): _bits([*UP_POINTS, (40_000, 1.0)]),
        Labels.from_dict(new): _bits([(2_000, 1.0)]),
    }


def test_a_resent_push_stores_nothing_twice(tsdb: TSDB) -> None:
    """A sender retries a batch whose answer it lost: as in Prometheus, its older samples are
    out of order (the sender drops the batch on 400) and the last one is a silent duplicate."""
    body = _push(_series(UP, UP_POINTS))
    with _client(tsdb) as client:
        assert [_post(client, body), _post(client, body)] == [
            (204, ""),
            (400, "2 of 3 samples refused (2 out of order); 0 stored, 1 already stored"),
        ]
    assert _stored(tsdb) == {Labels.from_dict(UP): _bits(UP_POINTS)}


def test_without_the_flag_the_endpoint_says_how_to_enable_it(tsdb: TSDB) -> None:
    with _client(tsdb, enabled=False) as client:
        assert _post(client, _push(_series(UP, UP_POINTS))) == (404, DISABLED_MESSAGE)
    assert _stored(tsdb) == {}


def test_a_push_before_the_wal_is_replayed_is_answered_503_for_a_retry() -> None:
    def not_ready() -> CommittingAppender:
        raise StorageNotReady("replaying the WAL (40%)")

    receiver = WriteReceiver(not_ready)
    with TestClient(Starlette(routes=list(receiver.routes()))) as client:
        assert _post(client, _push(_series(UP, UP_POINTS))) == (
            503,
            "TSDB not ready: replaying the WAL (40%)",
        )


NOW_MS = 1_700_000_000_000
INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    "future_ms", [NOW_MS + 10**12, INT64_MAX, NOW_MS + 10 * 60 * 1000 + 1], ids=str
)
def test_a_far_future_sample_is_refused_and_does_not_poison_the_head(
    tmp_path: Path, future_ms: int
) -> None:
    clock = [NOW_MS / 1000]
    with TSDB.open(tmp_path / "data", clock=lambda: clock[0]) as db, _client(db) as client:
        status, text = _post(
            client,
            _push(
                _series(UP, [(NOW_MS, 1.0), (future_ms, 2.0)]), _series(LOAD, [(future_ms, 1.0)])
            ),
        )
        assert (status, text) == (
            400,
            "2 of 3 samples refused (2 out of bounds (too far in the future: beyond now + "
            "--storage.tsdb.max-future)); 1 stored",
        )
        assert db.head.max_time == NOW_MS
        assert db.head.num_series == 1  # LOAD had no sample in bounds: never created
        clock[0] += 15
        assert _post(client, _push(_series(UP, [(NOW_MS + 15_000, 3.0)]))) == (204, "")
        assert _stored(db) == {Labels.from_dict(UP): _bits([(NOW_MS, 1.0), (NOW_MS + 15_000, 3.0)])}


def test_refused_samples_create_no_series(tmp_path: Path) -> None:
    clock = [NOW_MS / 1000]
    body = _push(
        *(_series({"__name__": "m", "i": str(i)}, [(INT64_MAX, 1.0)]) for i in range(2_000))
    )
    with TSDB.open(tmp_path / "data", clock=lambda: clock[0]) as db, _client(db) as client:
        status, text = _post(client, body)
        assert (status, db.head.num_series) == (400, 0)
        assert text.startswith("2000 of 2000 samples refused (2000 out of bounds (too far")


def test_a_full_disk_is_answered_503_with_retry_after_and_logged_once_a_minute(
    tsdb: TSDB, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The sender keeps what a full disk refused and retries (Prometheus retries any 5xx);
    a push every few ms is a log line a minute, with the count, never a traceback."""
    clock = ManualClock(NOW_MS / 1000)
    full = [True]
    write = os.write

    def disk(fd: int, data: bytes | memoryview) -> int:
        if full[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(fd, data)

    monkeypatch.setattr(os, "write", disk)
    caplog.set_level(logging.INFO, logger="vigil.remote.receiver")
    receiver = WriteReceiver(tsdb.appender, clock=clock.now)
    answers = []
    with TestClient(Starlette(routes=list(receiver.routes()))) as client:
        for k in range(4):
            if k == 3:
                clock.advance(61)
            response = client.post("/api/v1/write", content=_push(_series(UP, UP_POINTS)))
            answers.append(
                (response.status_code, response.headers.get("Retry-After"), response.text)
            )
        full[0] = False
        answers.append((_post(client, _push(_series(UP, UP_POINTS)))[0], None, ""))
    refused = (503, str(RETRY_AFTER_S), "storage cannot write: No space left on device")
    assert answers == [refused] * 4 + [(204, None, "")]
    logged = [r for r in caplog.records if r.name == "vigil.remote.receiver"]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in logged] == [
        (
            "ERROR",
            "remote write refused with 503: storage cannot write: No space left on device",
            None,
        ),
        (
            "ERROR",
            "remote write: 3 requests refused with 503 in the last 61s: "
            "storage cannot write: No space left on device",
            None,
        ),
    ]
    assert _stored(tsdb) == {Labels.from_dict(UP): _bits(UP_POINTS)}
