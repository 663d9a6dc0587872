"""LogstashFormatter against the real logstash-logback-encoder (LogstashEncoder 7.2 on
Logback 1.2, Debian's jars, driven by java/Logstash.java): the same events give the same
JSON, so LogQL's `| json` reads a Python and a Spring Boot service alike."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from vigil.instrument import LogstashFormatter

pytestmark = pytest.mark.slow

JARS = [
    Path(f"/usr/share/java/{name}.jar")
    for name in (
        "logstash-logback-encoder",
        "logback-classic",
        "logback-core",
        "slf4j-api",
        "jackson-core",
        "jackson-databind",
        "jackson-annotations",
    )
]
SOURCE = Path(__file__).with_name("java") / "Logstash.java"
MDC = {
    "client_ip": "203.0.113.7",
    "route": "/items/{id}",
    "trace_id": "0af7651916cd43dd8448eb211c80319c",
}
# (Python level, Logback level, epoch ms, message)
EVENTS = [
    (logging.INFO, "INFO", 1796660400123, "booked 3"),
    (logging.WARNING, "WARN", 1796660400120, "slow: 2.5 s"),
    (logging.ERROR, "ERROR", 1796660400100, 'quote " and ünïcode'),
    (logging.DEBUG, "DEBUG", 1796660400000, "whole second"),
    (logging.CRITICAL, "ERROR", 1796660400007, "critical reads as ERROR"),
]


def _java(specs: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    for jar in JARS:
        assert jar.exists(), f"{jar} missing: install Debian's liblogstash-logback-encoder-java"
    classpath = ":".join(map(str, JARS))
    subprocess.run(["javac", "-d", str(workdir), "-cp", classpath, str(SOURCE)], check=True)
    done = subprocess.run(
        ["java", "-cp", f"{workdir}:{classpath}", "Logstash"],
        input="".join(json.dumps(spec) + "\n" for spec in specs),
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def _record(level: int, millis: int, message: str, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("app.orders", level, __file__, 1, message, None, exc_info)
    record.created, record.msecs = millis / 1000, millis % 1000
    record.threadName = "worker-1"
    record.mdc = dict(MDC)
    return record


def _spec(level: str, millis: int, message: str) -> dict[str, Any]:
    return {
        "timestamp": millis,
        "level": level,
        "logger": "app.orders",
        "thread": "worker-1",
        "message": message,
        "mdc": MDC,
    }


def test_events_encode_as_logstash_logback_encoder_does(tmp_path: Path) -> None:
    java = _java([_spec(level, ms, msg) for _, level, ms, msg in EVENTS], tmp_path)
    formatter = LogstashFormatter(timezone=UTC)
    python = [json.loads(formatter.format(_record(lv, ms, msg))) for lv, _, ms, msg in EVENTS]
    assert [list(line.items()) for line in python] == [list(line.items()) for line in java]


def test_an_exception_becomes_stack_trace_before_the_mdc(tmp_path: Path) -> None:
    [java] = _java([{**_spec("ERROR", 1796660400000, "failed"), "exception": "boom"}], tmp_path)
    python = json.loads(
        LogstashFormatter(timezone=UTC).format(
            _record(logging.ERROR, 1796660400000, "failed", exc=True)
        )
    )
    assert list(python) == list(java)
    assert python["stack_trace"].startswith("Traceback (most recent call last):\n")
