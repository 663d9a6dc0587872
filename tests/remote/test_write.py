"""remote_write queues against an in-process capture endpoint: what is sent (decoded with
prompb), relabeling, retries and backoff on a ManualClock, 4xx drops, WAL tailing across
segments, and resuming from the saved position after a restart."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cramjam
import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.config.prometheus import Config, parse_config
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.remote import prompb
from vigil.remote.write import RemoteWriteStorage
from vigil.tsdb.wal import checkpoint_records, encode_samples, encode_series
from vigil.tsdb.wlog import WAL

START = 1_700_000_000.0
URL = "http://remote.test/api/v1/write"


@dataclass
class Capture:
    """The remote end: answers with `statuses` in turn (then 204), keeps what it accepted."""

    clock: ManualClock
    statuses: list[int] = field(default_factory=list)
    accepted: list[tuple[Labels, int, float]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(self.clock.now())
        status = self.statuses.pop(0) if self.statuses else 204
        if status == 204:
            req = prompb.WriteRequest()
            req.ParseFromString(bytes(cramjam.snappy.decompress_raw(request.content)))
            for series in req.timeseries:
                labels = Labels((label.name, label.value) for label in series.labels)
                for sample in series.samples:
                    self.accepted.append((labels, sample.timestamp, sample.value))
        return httpx.Response(status, text="" if status == 204 else f"status {status}")


def _config(extra: str = "", external: str = "") -> Config:
    text = f"""
        global:
          external_labels: {{{external}}}
        remote_write:
          - url: {URL}
            name: test
            headers: {{X-Scope-OrgID: tenant-1}}
            queue_config:
              max_samples_per_send: 3
              batch_send_deadline: 5s
              min_backoff: 100ms
              max_backoff: 1s
              capacity: 100
        """
    return parse_config(textwrap.dedent(text) + textwrap.indent(textwrap.dedent(extra), "    "))


SERIES = [
    (1, Labels.from_dict({"__name__": "up", "job": "node", "instance": "a"})),
    (2, Labels.from_dict({"__name__": "up", "job": "node", "instance": "b"})),
    (3, Labels.from_dict({"__name__": "go_gc", "job": "node", "instance": "a"})),
]


def write_scrapes(wal: WAL, count: int, first: int = 0, series: bool = True) -> None:
    """One commit per scrape: each series gets a sample at t = (first + i) * 15 s."""
    if series:
        wal.log([encode_series(SERIES)])
    refs = np.array([ref for ref, _ in SERIES], dtype=np.int64)
    for i in range(first, first + count):
        ts = np.full(len(refs), int(START * 1000) + i * 15_000, dtype=np.int64)
        vs = refs.astype(np.float64) * 100 + i
        wal.log([encode_samples(refs, ts, vs)])


def expected(count: int, first: int = 0) -> list[tuple[Labels, int, float]]:
    return sorted(
        (labels, int(START * 1000) + i * 15_000, float(ref * 100 + i))
        for i in range(first, first + count)
        for ref, labels in SERIES
    )


class Harness:
    def __init__(self, tmp_path: Path, statuses: list[int] | None = None) -> None:
        self.clock = ManualClock(START)
        self.capture = Capture(self.clock, list(statuses or []))
        self.registry = CollectorRegistry()
        self.wal_dir = tmp_path / "wal"
        self.state_dir = tmp_path / "remote_write"
        self.storage = self.new_storage()

    def new_storage(self) -> RemoteWriteStorage:
        self.registry = CollectorRegistry()
        transport = httpx.MockTransport(self.capture.handle)
        return RemoteWriteStorage(
            self.wal_dir,
            self.state_dir,
            self.registry,
            clock=self.clock,
            client_factory=lambda _: httpx.AsyncClient(transport=transport),
        )

    def value(self, name: str, **labels: str) -> float:
        return (
            self.registry.get_sample_value(name, {"remote_name": "test", "url": URL, **labels})
            or 0.0
        )

    def times_between(self, first: int, second: int) -> float:
        return self.capture.times[second] - self.capture.times[first]

    async def until(self, done: Callable[[], bool], step: float = 0.25, limit: int = 400) -> None:
        """Let tasks run, moving the clock in steps (to the next deadline if sooner)."""
        for _ in range(limit):
            for _ in range(5):
                await asyncio.sleep(0)
            if done():
                return
            deadline = self.clock.next_deadline()
            now = self.clock.now()
            self.clock.set(min(now + step, deadline) if deadline and deadline > now else now + step)
        raise AssertionError("condition not reached")


def test_sends_wal_samples_with_headers_labels_and_relabeling(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    relabel = """
        write_relabel_configs:
          - source_labels: [__name__]
            regex: go_.*
            action: drop
          - target_label: region
            replacement: eu
        """
    config = _config(relabel, external="cluster: c1, instance: ext")

    async def run() -> None:
        wal = WAL(h.wal_dir)
        await h.storage.apply(config)  # a new queue starts at the WAL's end, as Prometheus's
        write_scrapes(wal, 4)
        await h.until(lambda: len(h.capture.accepted) == 8)
        await h.storage.stop()
        wal.close()

    asyncio.run(run())
    want = sorted(
        (labels.with_label("cluster", "c1").with_label("region", "eu"), t, v)
        for labels, t, v in expected(4)
        if labels.get("__name__") == "up"
    )
    assert sorted(h.capture.accepted) == want
    request = h.capture.requests[0]
    assert {k: request.headers[k] for k in ("content-encoding", "content-type")} == {
        "content-encoding": "snappy",
        "content-type": "application/x-protobuf",
    }
    assert request.headers["x-prometheus-remote-write-version"] == "0.1.0"
    assert request.headers["user-agent"].startswith("vigil/")
    assert request.headers["x-scope-orgid"] == "tenant-1"
    assert h.value("prometheus_remote_storage_samples_total") == 8
    assert h.value("prometheus_remote_storage_samples_dropped_total", reason="dropped_series") == 4
    assert h.value("prometheus_remote_storage_queue_highest_sent_timestamp_seconds") == START + 45


def test_retries_5xx_with_exponential_backoff_capped_at_max(tmp_path: Path) -> None:
    h = Harness(tmp_path, statuses=[500, 503, 502, 500, 500])

    async def run() -> None:
        wal = WAL(h.wal_dir)
        await h.storage.apply(_config())
        write_scrapes(wal, 1)
        await h.until(lambda: len(h.capture.accepted) == 3, step=0.05)
        await h.storage.stop()
        wal.close()

    asyncio.run(run())
    gaps = np.round(np.diff(h.capture.times), 3).tolist()
    assert gaps == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert sorted(h.capture.accepted) == expected(1)
    assert h.value("prometheus_remote_storage_samples_retried_total") == 15
    assert h.value("prometheus_remote_storage_samples_total") == 3


@pytest.mark.parametrize(
    ("status", "retry_on_429", "retried", "failed"),
    [
        (400, False, 0, 3),
        (404, False, 0, 3),
        (429, False, 0, 3),
        (429, True, 3, 0),
        (500, False, 3, 0),
    ],
)
def test_4xx_is_dropped_and_counted_429_retried_only_when_configured(
    tmp_path: Path, status: int, retry_on_429: bool, retried: int, failed: int
) -> None:
    h = Harness(tmp_path, statuses=[status])
    extra = (
        f"queue_config: {{max_samples_per_send: 3, retry_on_http_429: {str(retry_on_429).lower()}}}"
    )
    config = parse_config(
        textwrap.dedent(
            f"""
            remote_write:
              - url: {URL}
                name: test
                {extra}
            """
        )
    )

    async def run() -> None:
        wal = WAL(h.wal_dir)
        await h.storage.apply(config)
        write_scrapes(wal, 2)
        await h.until(lambda: len(h.capture.requests) >= 2 and not h.storage.queues[0].pending())
        await h.until(lambda: len(h.capture.accepted) == 6 - failed)
        await h.storage.stop()
        wal.close()

    asyncio.run(run())
    assert h.value("prometheus_remote_storage_samples_retried_total") == retried
    assert h.value("prometheus_remote_storage_samples_failed_total") == failed
    assert h.value("vigil_remote_storage_samples_rejected_total", code=str(status)) == failed
    assert h.value("prometheus_remote_storage_samples_total") == 6 - failed


def test_follows_segment_cuts_and_samples_written_while_running(tmp_path: Path) -> None:
    h = Harness(tmp_path)

    async def run() -> None:
        wal = WAL(h.wal_dir, segment_size=150)  # a few records per segment
        await h.storage.apply(_config())
        write_scrapes(wal, 5)
        await h.until(lambda: len(h.capture.accepted) == 15)
        write_scrapes(wal, 5, first=5, series=False)
        await h.until(lambda: len(h.capture.accepted) == 30)
        await h.storage.stop()
        wal.close()

    asyncio.run(run())
    assert len(list(h.wal_dir.iterdir())) > 3
    assert sorted(h.capture.accepted) == expected(10)


def test_restart_resumes_from_saved_position_without_loss_or_resend(tmp_path: Path) -> None:
    h = Harness(tmp_path, statuses=[500] * 1000)

    async def outage() -> None:
        wal = WAL(h.wal_dir)
        await h.storage.apply(_config())
        write_scrapes(wal, 4)
        await h.until(lambda: h.value("prometheus_remote_storage_samples_retried_total") >= 6)
        await h.storage.stop()  # vigil stops while the remote end is down
        wal.close()

    asyncio.run(outage())
    assert h.capture.accepted == []
    assert (h.state_dir / "test" / "position.json").exists()
    h.capture.statuses = []

    async def restart() -> None:
        wal = WAL(h.wal_dir)  # a restarted vigil writes a new segment
        h.storage = h.new_storage()
        await h.storage.apply(_config())
        write_scrapes(wal, 2, first=4)
        await h.until(lambda: len(h.capture.accepted) == 18)
        await h.storage.stop()
        wal.close()

    asyncio.run(restart())
    assert sorted(h.capture.accepted) == expected(6)
    before = len(h.capture.accepted)

    async def again() -> None:
        h.storage = h.new_storage()
        await h.storage.apply(_config())
        await h.until(lambda: True)
        for _ in range(40):
            h.clock.advance(1)
            await asyncio.sleep(0)
        await h.storage.stop()

    asyncio.run(again())
    assert len(h.capture.accepted) == before


def test_reload_keeps_unchanged_queue_and_stops_removed_one(tmp_path: Path) -> None:
    h = Harness(tmp_path)

    async def run() -> tuple[int, int, int]:
        WAL(h.wal_dir).close()
        await h.storage.apply(_config())
        first = id(h.storage.queues[0])
        await h.storage.apply(_config())
        same = id(h.storage.queues[0])
        await h.storage.apply(parse_config("global: {}\n"))
        left = len(h.storage.queues)
        await h.storage.stop()
        return first, same, left

    first, same, left = asyncio.run(run())
    assert (same, left) == (first, 0)


def test_a_backlog_raises_the_shard_count_and_every_series_stays_in_order(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    config = parse_config(
        textwrap.dedent(
            f"""
            remote_write:
              - url: {URL}
                name: test
                queue_config: {{capacity: 6, max_samples_per_send: 3, min_shards: 1, max_shards: 4}}
            """
        )
    )

    async def run() -> None:
        wal = WAL(h.wal_dir)
        await h.storage.apply(config)
        write_scrapes(wal, 40)
        await h.until(lambda: len(h.capture.accepted) == 120, step=0.5)
        await h.until(lambda: h.value("prometheus_remote_storage_shards") > 1, step=1)
        write_scrapes(wal, 10, first=40, series=False)
        await h.until(lambda: len(h.capture.accepted) == 150, step=0.5)
        await h.storage.stop()
        wal.close()

    asyncio.run(run())
    per_series: dict[Labels, list[int]] = {}
    for labels, t, _ in h.capture.accepted:
        per_series.setdefault(labels, []).append(t)
    assert all(ts == sorted(ts) for ts in per_series.values())
    assert sorted(h.capture.accepted) == expected(50)
    assert h.value("prometheus_remote_storage_shards_desired") > 1


def test_metadata_is_sent_every_send_interval(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    families = [
        ("up", "gauge", "Target up.", ""),
        ("http_requests_total", "counter", "Requests.", ""),
    ]
    transport = httpx.MockTransport(h.capture.handle)
    h.registry = CollectorRegistry()
    storage = RemoteWriteStorage(
        h.wal_dir,
        h.state_dir,
        h.registry,
        clock=h.clock,
        metadata_source=lambda: families,
        client_factory=lambda _: httpx.AsyncClient(transport=transport),
    )
    config = _config("metadata_config: {send_interval: 30s}")

    async def run() -> None:
        WAL(h.wal_dir).close()
        await storage.apply(config)
        await h.until(lambda: len(h.capture.requests) == 2, step=5)
        await storage.stop()

    asyncio.run(run())
    sent = []
    for request in h.capture.requests:
        req = prompb.WriteRequest()
        req.ParseFromString(bytes(cramjam.snappy.decompress_raw(request.content)))
        sent.append([(m.metric_family_name, m.type, m.help) for m in req.metadata])
    want = [
        ("http_requests_total", prompb.MetricMetadata.COUNTER, "Requests."),
        ("up", prompb.MetricMetadata.GAUGE, "Target up."),
    ]
    assert sent == [want, want]
    assert h.times_between(0, 1) == 30
    assert h.value("prometheus_remote_storage_metadata_total") == 4


def test_segments_checkpointed_away_during_an_outage_are_skipped_series_kept(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, statuses=[500] * 3)
    empty = np.array([], dtype=np.int64)

    async def run() -> None:
        wal = WAL(h.wal_dir)
        await h.storage.apply(_config())
        write_scrapes(wal, 2)  # series records only in the segment about to go
        await h.until(lambda: h.value("prometheus_remote_storage_samples_retried_total") >= 3)
        upto = wal.cut_segment()
        wal.write_checkpoint(
            upto, checkpoint_records(SERIES, empty, empty, empty.astype(np.float64))
        )
        write_scrapes(wal, 2, first=2, series=False)
        await h.until(lambda: len(h.capture.accepted) >= 6, step=0.1)
        await h.storage.stop()
        wal.close()

    asyncio.run(run())
    later = [s for s in h.capture.accepted if s[1] >= int(START * 1000) + 2 * 15_000]
    assert sorted(later) == expected(2, first=2)
    assert (
        h.value(
            "prometheus_remote_storage_samples_dropped_total",
            reason="unintentionally_dropped_series",
        )
        == 0
    )
