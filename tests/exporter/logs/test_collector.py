"""The agent's log collection end to end: Docker json-file logs and plain files pushed to a
real HTTP endpoint as Loki push bodies, every line once and in order per stream, across
rotation, failed pushes and restarts."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from tests.notify.capture import HTTPCapture, http_capture
from vigil.exporter.logs import LogCollectionOptions, LogCollector
from vigil.exporter.logs.push import LokiPusher
from vigil.exporter.logs.stages import Drop, Level
from vigil.model.clock import ManualClock

CONTAINER = "0123456789abcdef" * 4


def _docker(tmp_path: Path, name: str = "app", cid: str = CONTAINER) -> Path:
    directory = tmp_path / "containers" / cid
    directory.mkdir(parents=True, exist_ok=True)
    config = {"Name": f"/{name}", "Config": {"Image": "shop:1.4", "Labels": {}}}
    (directory / "config.v2.json").write_bytes(orjson.dumps(config))
    return directory / f"{cid}-json.log"


def _append(path: Path, *records: tuple[str, str, str]) -> None:
    with path.open("ab") as f:
        for log, stream, when in records:
            f.write(orjson.dumps({"log": log, "stream": stream, "time": when}) + b"\n")


def _pushed(capture: HTTPCapture) -> list[tuple[dict[str, str], int, str, dict[str, str]]]:
    """Every entry the endpoint received, in arrival order (a 2xx-answered push or not)."""
    out = []
    for request in capture.requests:
        body = request.body
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        for stream in orjson.loads(body)["streams"]:
            for value in stream["values"]:
                meta = value[2] if len(value) > 2 else {}
                out.append((stream["stream"], int(value[0]), value[1], meta))
    return out


def _round(collector: LogCollector, clock: ManualClock) -> None:
    """A tick, then one after the multiline wait: every line read so far is shipped."""
    collector.tick()
    clock.advance(3)
    collector.tick()


def _collector(tmp_path: Path, url: str, clock: ManualClock, **options: object) -> LogCollector:
    settings = LogCollectionOptions(
        docker_containers=tmp_path / "containers",
        positions_file=tmp_path / "positions.json",
        host="vm1",
        **options,  # type: ignore[arg-type]
    )
    return LogCollector(settings, LokiPusher(url), CollectorRegistry(), clock.now)


def test_container_lines_arrive_once_with_their_labels_and_times(tmp_path: Path) -> None:
    log = _docker(tmp_path)
    clock = ManualClock()
    big = "y" * 16384
    _append(
        log,
        ("started\n", "stdout", "2024-05-01T10:00:00.000000001Z"),
        (big, "stdout", "2024-05-01T10:00:01Z"),  # Docker's 16 KiB split
        ("ERROR boom\n", "stderr", "2024-05-01T10:00:01.5Z"),
        ("end\n", "stdout", "2024-05-01T10:00:02Z"),
    )
    with http_capture([204]) as capture:
        collector = _collector(tmp_path, capture.url("/loki/api/v1/push"), clock)
        collector.tick()  # each stream's last line may still grow into a multiline trace
        clock.advance(3)
        collector.tick()
        clock.advance(5)
        collector.tick()  # nothing new: nothing sent again
    labels = {"container": "app", "host": "vm1", "image": "shop:1.4", "service_name": "app"}
    # In the order the file holds their ends (the split line ends with "end").
    assert _pushed(capture) == [
        ({**labels, "stream": "stdout"}, 1714557600_000000001, "started", {}),
        ({**labels, "stream": "stderr"}, 1714557601_500000000, "ERROR boom", {"level": "error"}),
        ({**labels, "stream": "stdout"}, 1714557601_000000000, big + "end", {}),
    ]


def test_failed_pushes_are_retried_and_restarts_do_not_repeat(tmp_path: Path) -> None:
    log = _docker(tmp_path)
    clock = ManualClock()
    _append(log, *[(f"line {i}\n", "stdout", "2024-05-01T10:00:00Z") for i in range(3)])
    with http_capture([503, 204]) as capture:
        collector = _collector(tmp_path, capture.url(), clock)
        collector.tick()  # 503: nothing committed, retried after a back-off
        assert collector.last_error.startswith("HTTP 503")
        collector.tick()  # too early: no request
        assert len(capture.requests) == 1
        clock.advance(1)
        _round(collector, clock)
        _append(log, ("line 3\n", "stdout", "2024-05-01T10:00:01Z"))
        # A new collector (a restart) resumes from the positions file.
        _round(_collector(tmp_path, capture.url(), clock), clock)
    lines = [e[2] for e in _pushed(capture)]
    assert lines == ["line 0", "line 1", "line 0", "line 1", "line 2", "line 3"]


def test_rotation_while_down_and_a_container_restarted_under_its_name(tmp_path: Path) -> None:
    log = _docker(tmp_path)
    clock = ManualClock()
    _append(log, ("before\n", "stdout", "2024-05-01T10:00:00Z"))
    with http_capture([204]) as capture:
        _round(_collector(tmp_path, capture.url(), clock), clock)
        _append(log, ("rotated away unsent\n", "stdout", "2024-05-01T10:00:01Z"))
        os.rename(log, log.with_name(log.name + ".1"))
        _append(log, ("after rotation\n", "stdout", "2024-05-01T10:00:02Z"))
        other = _docker(tmp_path, name="app", cid="f" * 64)  # `docker rm` + `run --name app`
        _append(other, ("new container\n", "stdout", "2024-05-01T10:00:03Z"))
        _round(_collector(tmp_path, capture.url(), clock), clock)
    got = [(e[0]["container"], e[2]) for e in _pushed(capture)]
    assert sorted(got) == sorted(
        [
            ("app", "before"),
            ("app", "rotated away unsent"),
            ("app", "after rotation"),
            ("app", "new container"),
        ]
    )


def test_a_stopped_container_s_last_line_is_shipped_without_the_multiline_wait(
    tmp_path: Path,
) -> None:
    """A running container's last line may still grow into a trace: it waits. Once Docker has
    written the container's exit to its config.v2.json, nothing can continue it: the next round
    ships it, though no clock moved."""
    log = _docker(tmp_path)
    clock = ManualClock()
    _append(log, ("loading\n", "stdout", "2024-05-01T10:00:00Z"))
    _append(log, ("rendering the PDF\n", "stdout", "2024-05-01T10:00:01Z"))
    with http_capture([204]) as capture:
        collector = _collector(tmp_path, capture.url(), clock)
        collector.tick()
        collector.tick()
        while_running = [e[2] for e in _pushed(capture)]
        config = orjson.loads((log.parent / "config.v2.json").read_bytes())
        config["State"] = {"Running": False, "ExitCode": 137, "OOMKilled": True, "Pid": 0}
        (log.parent / "config.v2.json").write_bytes(orjson.dumps(config))
        collector.tick()
    assert (while_running, [e[2] for e in _pushed(capture)]) == (
        ["loading"],
        ["loading", "rendering the PDF"],
    )


def test_files_by_glob_with_edge_stages_and_counted_drops(tmp_path: Path) -> None:
    app = tmp_path / "app.log"
    app.write_text(
        '{"level":"INFO","user_agent":"ELB-HealthChecker/2.0","msg":"GET /health"}\n'
        '{"level":"ERROR","user_agent":"Mozilla","msg":"checkout failed"}\n'
    )
    clock = ManualClock()
    registry = CollectorRegistry()
    with http_capture([204]) as capture:
        settings = LogCollectionOptions(
            docker_containers=None,
            files=(str(tmp_path / "*.log"),),
            host="vm1",
            stages=(Drop("elb-health", "ELB-HealthChecker/", source="user_agent"), Level()),
        )
        _round(LogCollector(settings, LokiPusher(capture.url()), registry, clock.now), clock)
    assert [(e[0], e[2], e[3]) for e in _pushed(capture)] == [
        (
            {"filename": str(app), "host": "vm1", "service_name": "app"},
            '{"level":"ERROR","user_agent":"Mozilla","msg":"checkout failed"}',
            {"level": "error"},
        )
    ]
    assert registry.get_sample_value("vigil_logs_dropped_total", {"rule": "elb-health"}) == 1


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_push_is_dropped_and_counted_not_retried_forever(
    tmp_path: Path, status: int
) -> None:
    log = _docker(tmp_path)
    clock = ManualClock()
    registry = CollectorRegistry()
    _append(log, ("x\n", "stdout", "2024-05-01T10:00:00Z"))
    with http_capture([status, 204]) as capture:
        settings = LogCollectionOptions(docker_containers=tmp_path / "containers", host="vm1")
        collector = LogCollector(settings, LokiPusher(capture.url()), registry, clock.now)
        _round(collector, clock)
        _round(collector, clock)
    assert len(capture.requests) == 1
    assert registry.get_sample_value("vigil_logs_rejected_entries_total") == 1


def test_quiet_rounds_wait_longer_and_a_new_line_brings_the_pace_back(tmp_path: Path) -> None:
    log = _docker(tmp_path)
    log.touch()
    clock = ManualClock()
    with http_capture([204]) as capture:
        collector = _collector(tmp_path, capture.url(), clock, idle_interval_s=4.0)
        waits = []
        for _ in range(4):  # the first round discovers the file: work
            collector.tick()
            waits.append(collector.pace.wait_s)
            clock.advance(1)
        _append(log, ("hello\n", "stdout", "2024-05-01T10:00:00Z"))
        _round(collector, clock)  # read, then shipped after the multiline wait
        waits.append(collector.pace.wait_s)
        collector.stop()
    assert (waits, [line for _, _, line, _ in _pushed(capture)]) == (
        [1.0, 2.0, 4.0, 4.0, 1.0],
        ["hello"],
    )
