"""The dead man's switch: pings while vigil is healthy, withheld (and counted) while not,
driven by a manual clock; and a real `vigil server --heartbeat.url` pinging a local sink."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import free_port, running
from tests.notify.capture import http_capture
from vigil.model.clock import ManualClock
from vigil.notify.heartbeat import GroupHealth, Heartbeat, rules_problem

START = 1_700_000_000.0

PROBLEMS = [
    ("on time", [GroupHealth("a", 15, START + 100)], START + 120, None),
    ("never ran, fresh start", [GroupHealth("a", 15, None)], START + 30, None),
    (
        "never ran for long",
        [GroupHealth("a", 15, None)],
        START + 50,
        "rule group 'a' last evaluated 50s ago",
    ),
    (
        "one group late",
        [GroupHealth("a", 15, START + 180), GroupHealth("b", 60, START)],
        START + 190,
        "rule group 'b' last evaluated 190s ago",
    ),
    ("no groups", [], START + 1000, None),
]


@pytest.mark.parametrize(
    ("groups", "now", "want"), [p[1:] for p in PROBLEMS], ids=[p[0] for p in PROBLEMS]
)
def test_rules_problem(groups: list[GroupHealth], now: float, want: str | None) -> None:
    assert rules_problem(groups, now, START) == want


def test_beats_every_interval_and_withholds_while_unhealthy() -> None:
    async def scenario() -> tuple[list[dict[str, object]], float]:
        clock = ManualClock(START)
        bodies: list[dict[str, object]] = []
        statuses = iter([200, 200, 500, 200])
        problem: list[str | None] = [None]

        def handle(request: httpx.Request) -> httpx.Response:
            bodies.append(json.loads(request.content))
            return httpx.Response(next(statuses))

        registry = CollectorRegistry()
        beat = Heartbeat(
            "http://ping.example/abc",
            clock,
            lambda: problem[0],
            interval=60,
            registry=registry,
            transport=httpx.MockTransport(handle),
        )
        task = asyncio.create_task(beat.run())

        async def advance(seconds: float) -> None:
            clock.advance(seconds)
            for _ in range(20):
                await asyncio.sleep(0)

        await advance(0)
        await advance(60)
        problem[0] = "rule group 'a' last evaluated 200s ago"
        await advance(60)  # withheld
        problem[0] = None
        await advance(60)  # 500: counted as failure
        await advance(60)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        values = {
            name: registry.get_sample_value(name)
            for name in (
                "vigil_heartbeat_failures_total",
                "vigil_heartbeat_skipped_total",
                "vigil_heartbeat_last_success_timestamp_seconds",
            )
        }
        assert values == {
            "vigil_heartbeat_failures_total": 1.0,
            "vigil_heartbeat_skipped_total": 1.0,
            "vigil_heartbeat_last_success_timestamp_seconds": START + 240,
        }
        return bodies, clock.now()

    bodies, _ = asyncio.run(scenario())
    assert len(bodies) == 4
    first = bodies[0]
    assert first["version"] == "4" and first["status"] == "firing"
    alerts = first["alerts"]
    assert isinstance(alerts, list) and alerts[0]["labels"]["alertname"] == "Watchdog"


@pytest.mark.slow
def test_server_pings_the_heartbeat_url(tmp_path: Path) -> None:
    port = free_port()
    with http_capture() as sink:
        args = [
            sys.executable,
            "-m",
            "vigil",
            "server",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--heartbeat.url={sink.url('/ping/abc')}",
            "--heartbeat.interval=1s",
            "--agent.disable",
        ]
        with running(args, f"http://127.0.0.1:{port}/-/ready"):
            pings = sink.wait(2, 30)
    assert {p.path for p in pings} == {"/ping/abc"}
    assert json.loads(pings[0].body)["alerts"][0]["labels"]["alertname"] == "Watchdog"


STORAGE = "storage cannot write (no space left on device) for 12s, 40 writes refused"


@pytest.mark.parametrize(
    ("fail_url", "want_posts", "want_log"),
    [
        (
            "",
            ["/ping/abc", "/ping/abc"],
            "heartbeat withheld until vigil is healthy again: " + STORAGE,
        ),
        (
            "http://ping.example/ping/abc/fail",
            ["/ping/abc", f"/ping/abc/fail {STORAGE}", f"/ping/abc/fail {STORAGE}", "/ping/abc"],
            "heartbeat reported to http://ping.example/… until vigil is healthy again: " + STORAGE,
        ),
    ],
    ids=["pings stop", "failure URL"],
)
def test_an_unhealthy_vigil_stops_pinging_or_pings_the_failure_url_and_logs_it_once(
    fail_url: str, want_posts: list[str], want_log: str, caplog: pytest.LogCaptureFixture
) -> None:
    posts: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        text = request.content.decode() if request.url.path.endswith("/fail") else ""
        posts.append(f"{request.url.path} {text}".strip())
        return httpx.Response(200)

    async def scenario() -> None:
        clock = ManualClock(START)
        problem: list[str | None] = [None]
        beat = Heartbeat(
            "http://ping.example/ping/abc",
            clock,
            lambda: problem[0],
            fail_url=fail_url,
            interval=60,
            transport=httpx.MockTransport(handle),
        )
        assert await beat.beat()
        problem[0] = STORAGE
        clock.advance(60)
        assert not await beat.beat()
        clock.advance(60)
        assert not await beat.beat()
        problem[0] = None
        clock.advance(60)
        assert await beat.beat()

    caplog.set_level(logging.INFO, logger="vigil.notify.heartbeat")
    asyncio.run(scenario())
    assert (posts, [r.getMessage() for r in caplog.records]) == (
        want_posts,
        [want_log, "heartbeat resumes: vigil is healthy again"],
    )
