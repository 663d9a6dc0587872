"""The syslog listener on a free 127.0.0.1 port, fed by real senders: util-linux `logger`
(RFC 5424 and 3164, UDP and TCP, newline and octet-counted framing) and Debian's rsyslog
forwarding with omfwd (TCP, octet-counted); each message is stored as a log entry with
labels {job, host, app} only."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import PATIENCE_S, free_port, peer
from tests.logs.ingest.stores import FullDisk, stored
from vigil.logs import LogAppender, MemoryLogStore
from vigil.logs.ingest.syslog_listener import SyslogListener
from vigil.model import Labels

pytestmark = pytest.mark.slow

HOST = socket.gethostname()


@contextmanager
def _listening(store: LogAppender, registry: CollectorRegistry | None = None) -> Iterator[int]:
    port = free_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    listener = SyslogListener(f"127.0.0.1:{port}", lambda: store, time.time_ns, registry=registry)
    asyncio.run_coroutine_threadsafe(listener.start(), loop).result(PATIENCE_S)
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(listener.stop(), loop).result(PATIENCE_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(PATIENCE_S)
        loop.close()


def _wait_for(store: MemoryLogStore, count: int) -> list[tuple[Labels, bytes, Labels]]:
    deadline = time.monotonic() + PATIENCE_S
    while True:
        rows = [
            (labels, line, meta)
            for labels, found in stored(store).items()
            for _, line, meta in found
        ]
        if len(rows) >= count:
            return sorted(rows)
        assert time.monotonic() < deadline, f"{len(rows)} of {count} messages arrived"
        time.sleep(0.05)


LOGGER_CASES = [
    ("rfc5424 udp", ["--rfc5424", "-d"]),
    ("rfc3164 udp", ["--rfc3164", "-d"]),
    ("rfc5424 tcp", ["--rfc5424", "-T"]),
    ("rfc3164 tcp", ["--rfc3164", "-T"]),
    ("rfc5424 tcp octet-counted", ["--rfc5424", "-T", "--octet-count"]),
]


@pytest.mark.parametrize(("name", "flags"), LOGGER_CASES, ids=[c[0] for c in LOGGER_CASES])
def test_logger(name: str, flags: list[str]) -> None:
    store = MemoryLogStore()
    with _listening(store) as port:
        for priority, message in (("user.err", "payment failed ✓"), ("local4.info", "order paid")):
            subprocess.run(
                [peer("logger"), *flags, "-n", "127.0.0.1", "-P", str(port), "-t", "shop",
                 "-p", priority, message],
                check=True,
            )  # fmt: skip
        rows = _wait_for(store, 2)
    labels = Labels.from_dict({"job": "syslog", "host": HOST, "app": "shop"})
    got = [
        (lb, line, m.get("level"), m.get("facility"), m.get("detected_level"))
        for lb, line, m in rows
    ]
    assert got == [
        (labels, b"order paid", "info", "local4", "info"),
        (labels, "payment failed ✓".encode(), "error", "user", "error"),
    ]


RSYSLOG = """
global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
action(type="omfwd" target="127.0.0.1" port="{syslog}" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
"""


def test_rsyslog_omfwd(tmp_path: Path) -> None:
    store = MemoryLogStore()
    tcp = free_port()
    work = tmp_path / "rsyslog"
    work.mkdir()
    with _listening(store) as port:
        config = tmp_path / "rsyslog.conf"
        config.write_text(RSYSLOG.format(work=work, tcp=tcp, syslog=port))
        proc = subprocess.Popen(
            [peer("rsyslogd"), "-n", "-f", str(config), "-i", str(tmp_path / "rsyslog.pid")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + PATIENCE_S
            for message in ("first line", "second line"):
                while subprocess.run(
                    [peer("logger"), "--rfc5424", "-T", "-n", "127.0.0.1", "-P", str(tcp),
                     "-t", "billing", "--id=77", "-p", "daemon.warning", message],
                    stderr=subprocess.DEVNULL,
                    check=False,
                ).returncode:  # fmt: skip
                    assert time.monotonic() < deadline, "rsyslog did not listen"
                    time.sleep(0.1)
            rows = _wait_for(store, 2)
        finally:
            proc.terminate()
            proc.wait(PATIENCE_S)
    labels = Labels.from_dict({"job": "syslog", "host": HOST, "app": "billing"})
    got = [(lb, line, m.get("level"), m.get("procid")) for lb, line, m in rows]
    assert got == [
        (labels, b"first line", "warning", "77"),
        (labels, b"second line", "warning", "77"),
    ]


def test_messages_the_store_cannot_take_are_counted() -> None:
    registry = CollectorRegistry()

    def count(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    with _listening(FullDisk(), registry) as port:
        subprocess.run(
            [peer("logger"), "-d", "-n", "127.0.0.1", "-P", str(port), "lost"], check=True
        )
        deadline = time.monotonic() + PATIENCE_S
        while count("vigil_syslog_messages_dropped_total", reason="storage") < 1:
            assert time.monotonic() < deadline, "the drop was not counted"
            time.sleep(0.05)
    assert (
        count("vigil_syslog_messages_received_total", transport="udp"),
        count("vigil_syslog_messages_dropped_total", reason="storage"),
        count("vigil_syslog_messages_dropped_total", reason="queue_full"),
    ) == (1, 1, 0)
