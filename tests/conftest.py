"""Shared test helpers: where the shared test data lives, free ports, the real peers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import settings

# Hypothesis's per-example deadline (200 ms) measures the machine, not the code: on a loaded
# 2-core CI runner a correct property test can overrun it.
settings.register_profile("vigil", deadline=None)
settings.load_profile("vigil")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
FIXTURES = SHARED / "fixtures"


# Every `vigil server` a test or a bench (they import this module) starts would listen on
# OTLP's port 4318 by default, and two at once would collide: those that want the OTLP
# listener pass a free port to --otlp.listen-address.
os.environ["VIGIL_OTLP_LISTEN_ADDRESS"] = ""


class SetAfter(threading.Event):
    """An event that reads as set from its `n`th question on: a store closing while its
    compaction is half-way through a block."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.asked = 0
        self.n = n

    def is_set(self) -> bool:
        self.asked += 1
        return self.asked >= self.n


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peer(binary: str) -> str:
    """Path of a real peer program; a missing peer fails the test (CI installs them)."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(
            f"{binary} is not installed: .ci/run installs the Debian packages the tests compare against"
        )
    return path


# How long a test waits for a server, a peer or a condition before it fails. A wait returns as
# soon as the condition holds, so this only needs to be generous: on CI's 2 cores, parallel
# tests can keep a starting server from answering for tens of seconds.
PATIENCE_S = 120.0


def wait_ok(
    url: str, seconds: float = PATIENCE_S, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `url` until it answers 200 (a bounded wait for a process to come up); when the
    process `proc` exits first, fail at once."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {seconds:.0f} s")


@contextmanager
def running(
    args: list[str], ready_url: str, seconds: float = PATIENCE_S
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process (a real peer or `vigil ...`), ready when `ready_url` answers 200,
    stopped when the block ends. A process that never gets ready fails the test with the end
    of what it wrote to stderr."""
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            try:
                wait_ok(ready_url, seconds, proc)
            except AssertionError as err:
                stderr.seek(0)
                tail = stderr.read()[-4000:].decode("utf-8", "replace")
                raise AssertionError(f"{err}\n--- its stderr, last lines ---\n{tail}") from None
            yield proc
        finally:
            proc.terminate()
            proc.wait(30)


SUMMARY_KEY = "vigil_summary"


@pytest.fixture
def summary(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Report a line (a conformance count, a coverage figure) at the end of the test run,
    also under pytest-xdist, where a test's own prints are not shown."""

    def report(line: str) -> None:
        record_property(SUMMARY_KEY, line)

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for key, value in report.user_properties
        if key == SUMMARY_KEY
    ]
    if lines:
        terminalreporter.section("vigil conformance and coverage")
        for line in sorted(lines):
            terminalreporter.write_line(line)
