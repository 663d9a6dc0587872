"""Shared test helpers: where the shared test data lives, free ports, the real peers."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
FIXTURES = SHARED / "fixtures"


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
