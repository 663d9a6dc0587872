"""The systemd journal as a log source: real journal files written by systemd's own
`systemd-journal-remote` from journal export text, read by the real `journalctl`; every
entry shipped at least once, resumed after a restart from the saved cursor."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import PATIENCE_S
from vigil.exporter.logs import LogCollectionOptions, LogCollector
from vigil.exporter.logs.entry import LogEntry
from vigil.exporter.logs.journal import JournalOptions, journal_entry
from vigil.exporter.logs.push import Outcome, PushResult
from vigil.model.clock import ManualClock

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT = "0123456789abcdef0123456789abcdef"


def _write(journal: Path, entries: Sequence[dict[str, str]]) -> None:
    """Append entries to a journal file (journal export format, one blank line after each)."""
    export = journal.with_suffix(".export")
    export.write_text("".join("".join(f"{k}={v}\n" for k, v in e.items()) + "\n" for e in entries))
    subprocess.run(
        [JOURNAL_REMOTE, "-o", str(journal), str(export)], check=True, capture_output=True
    )


def _entry(i: int, message: str, **fields: str) -> dict[str, str]:
    return {
        "__REALTIME_TIMESTAMP": str(1_700_000_000_000_000 + i * 1_000_000),
        "__MONOTONIC_TIMESTAMP": str(1_000 + i),
        "_BOOT_ID": BOOT,
        "_HOSTNAME": "vm1",
        "_SYSTEMD_UNIT": "shop.service",
        "MESSAGE": message,
        **fields,
    }


class Sink:
    """Records every push; answers from `outcomes` in turn, then SHIPPED."""

    def __init__(self, outcomes: Sequence[Outcome] = ()) -> None:
        self.pushes: list[list[str]] = []
        self._outcomes = list(outcomes)

    def push(self, entries: Sequence[LogEntry]) -> PushResult:
        self.pushes.append([e.line for e in entries])
        outcome = self._outcomes.pop(0) if self._outcomes else Outcome.SHIPPED
        return PushResult(outcome, "HTTP 503" if outcome is Outcome.RETRY else "")

    def lines(self) -> list[str]:
        return [line for push in self.pushes for line in push]


def _collector(tmp_path: Path, sink: Sink, clock: ManualClock, **options: object) -> LogCollector:
    settings = LogCollectionOptions(
        docker_containers=None,
        positions_file=tmp_path / "positions.json",
        host="agent-host",
        **options,  # type: ignore[arg-type]
    )
    return LogCollector(settings, sink, CollectorRegistry(), clock.now)


def _until(collector: LogCollector, clock: ManualClock, done: object) -> None:
    """Rounds until `done()` holds: journalctl's output arrives on its own thread."""
    deadline = time.monotonic() + PATIENCE_S
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, "journal entries did not arrive"
        clock.advance(1)
        collector.tick()
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("record", "want"),
    [
        (
            _entry(0, "started", PRIORITY="6", SYSLOG_IDENTIFIER="java", __CURSOR="c0"),
            (
                (("host", "vm1"), ("service_name", "java"), ("unit", "shop.service")),
                1_700_000_000_000_000_000,
                "started",
                {"level": "info"},
                "c0",
            ),
        ),
        (
            {**_entry(1, "x", PRIORITY="3", __CURSOR="c1"), "MESSAGE": [104, 105, 255]},  # type: ignore[dict-item]
            (
                (("host", "vm1"), ("service_name", "shop"), ("unit", "shop.service")),
                1_700_000_001_000_000_000,
                "hi\ufffd",
                {"level": "error"},
                "c1",
            ),
        ),
        (
            {
                "__CURSOR": "c2",
                "__REALTIME_TIMESTAMP": "5",
                "MESSAGE": "kernel",
                "_COMM": "kworker",
            },
            ((("host", "agent-host"), ("service_name", "kworker")), 5_000, "kernel", {}, "c2"),
        ),
        ({"__REALTIME_TIMESTAMP": "5", "MESSAGE": "no cursor"}, None),
        ({"__CURSOR": "c", "__REALTIME_TIMESTAMP": "5"}, None),
        ({"__CURSOR": "c", "__REALTIME_TIMESTAMP": "soon", "MESSAGE": "m"}, None),
    ],
)
def test_records_become_entries(record: dict[str, object], want: tuple[object, ...] | None) -> None:
    got = journal_entry(record, "agent-host")
    if want is None:
        assert got is None
        return
    assert got is not None
    entry, cursor = got
    assert (entry.labels, entry.ts_ns, entry.line, entry.metadata, cursor) == want


def test_entries_ship_at_least_once_and_a_restart_resumes_after_the_cursor(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "system.journal"
    _write(journal, [_entry(i, f"line {i}") for i in range(3)])
    clock = ManualClock(1_700_000_100.0)
    options = JournalOptions(path=journal, max_age_s=10 * 365 * 86400)
    sink = Sink([Outcome.RETRY])
    collector = _collector(tmp_path, sink, clock, journal=options)
    try:
        _until(collector, clock, lambda: sink.lines().count("line 2") == 2)
        _write(journal, [_entry(3, "line 3")])
        _until(collector, clock, lambda: "line 3" in sink.lines())
    finally:
        collector.stop()
    # The refused push came again whole; nothing after it repeated.
    assert sink.lines() == ["line 0", "line 1", "line 2"] * 2 + ["line 3"]

    _write(journal, [_entry(4, "line 4"), _entry(5, "line 5")])
    again = Sink()
    restarted = _collector(tmp_path, again, clock, journal=options)
    try:
        _until(restarted, clock, lambda: "line 5" in again.lines())
    finally:
        restarted.stop()
    assert again.lines() == ["line 4", "line 5"]


def test_a_missing_journalctl_is_reported_and_files_still_ship(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app_log = tmp_path / "app.log"
    app_log.write_text("from a file\n")
    clock = ManualClock(1_700_000_100.0)
    sink = Sink()
    registry = CollectorRegistry()
    settings = LogCollectionOptions(
        docker_containers=None,
        files=(str(app_log),),
        journal=JournalOptions(journalctl="no-such-journalctl"),
        positions_file=tmp_path / "positions.json",
    )
    collector = LogCollector(settings, sink, registry, clock.now)
    with caplog.at_level(logging.ERROR):
        collector.tick()
        clock.advance(3)
        collector.tick()
    collector.stop()
    assert sink.lines() == ["from a file"]
    assert registry.get_sample_value("vigil_logs_journal_up") == 0
    assert [r.getMessage() for r in caplog.records] == [
        "journal collection failed, retrying in 30 s: no-such-journalctl not found on PATH"
    ]
