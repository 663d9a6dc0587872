"""Docker's json-file records, 16 KiB parts, multiline traces and the edge stages."""

from __future__ import annotations

import orjson
import pytest

from vigil.exporter.logs.dockerjson import PartialJoiner, decode, parse_time_ns
from vigil.exporter.logs.entry import LogEntry
from vigil.exporter.logs.multiline import Line, MultilineMerger, MultilineRule
from vigil.exporter.logs.stages import ClientIP, Drop, Extract, Level, Stage, run_pipeline
from vigil.exporter.logs.tail import Position, Record

P = Position(1, 0)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:01Z", 1_000_000_000),
        ("2024-05-01T10:00:00.123456789Z", 1714557600_123456789),
        ("2024-05-01T10:00:00.5Z", 1714557600_500000000),
        ("2024-05-01T12:00:00.000000001+02:00", 1714557600_000000001),
    ],
)
def test_docker_times_keep_nanoseconds(text: str, ns: int) -> None:
    assert parse_time_ns(text) == ns


def _record(line: bytes, n: int) -> Record:
    return Record(line, Position(1, n), Position(1, n + 1))


def test_parts_split_at_16_kib_are_joined_per_stream() -> None:
    big = "x" * 16384
    raw = [
        b'{"log":"%s","stream":"stdout","time":"2024-05-01T10:00:00Z"}' % big.encode(),
        b'{"log":"err\\n","stream":"stderr","time":"2024-05-01T10:00:01Z"}',
        b'{"log":"tail\\n","stream":"stdout","time":"2024-05-01T10:00:02Z"}',
        b"not json",
    ]
    joiner = PartialJoiner()
    out: list[tuple[str, int, str, Position, Position] | None] = []
    for n, line in enumerate(raw):
        parsed = decode(_record(line, n))
        if parsed is None:
            out.append(None)
            continue
        joined = joiner.push(parsed)
        if joined is not None:
            out.append((joined.stream, joined.ts_ns, joined.text, joined.start, joined.end))
    assert out == [
        ("stderr", 1714557601_000000000, "err", Position(1, 1), Position(1, 2)),
        ("stdout", 1714557600_000000000, big + "tail", Position(1, 0), Position(1, 3)),
        None,
    ]


JAVA = """2024-05-01 10:00:00 ERROR [main] c.e.App - request failed
java.lang.IllegalStateException: boom
\tat com.example.App.run(App.java:10)
\tat com.example.App.main(App.java:5)
Caused by: java.io.IOException: disk full
\tat com.example.Disk.write(Disk.java:3)
\t... 2 more
2024-05-01 10:00:01 INFO [main] c.e.App - next""".splitlines()


@pytest.mark.parametrize(
    "rule",
    [MultilineRule(), MultilineRule(continuation="", start=r"^\d{4}-\d\d-\d\d ")],
    ids=["java-continuation", "start-pattern"],
)
def test_a_java_stack_trace_is_one_entry(rule: MultilineRule) -> None:
    merger = MultilineMerger(rule)
    done = [
        merger.push(Line(i, text, Position(1, i), Position(1, i + 1)), 0.0)
        for i, text in enumerate(JAVA)
    ]
    entries = [d for d in done if d is not None]
    assert [(e.text, e.start, e.end) for e in entries] == [
        ("\n".join(JAVA[:7]), Position(1, 0), Position(1, 7))
    ]
    assert merger.pending_start() == Position(1, 7)
    assert merger.flush_due(2.9) is None
    last = merger.flush_due(3.0)
    assert last is not None and last.text == JAVA[7]


def _entry(line: str) -> LogEntry:
    return LogEntry((("job", "app"),), 1, line)


@pytest.mark.parametrize(
    ("header", "client"),
    [
        # The right-most address that is not a trusted proxy; anything left of it is the
        # client's own claim.
        ("203.0.113.7", "203.0.113.7"),
        ("1.2.3.4, 203.0.113.7", "203.0.113.7"),
        ("1.2.3.4, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        ("203.0.113.7, 10.0.0.2, 172.16.5.4", "203.0.113.7"),
        ("10.1.1.1, 192.168.0.9", "10.1.1.1"),  # every hop trusted: the left-most
        ("2001:db8::1, fc00::5", "2001:db8::1"),
        ("[2001:db8::1]:4711, 10.0.0.1", "2001:db8::1"),
        ("198.51.100.1:5555", "198.51.100.1"),
        ("garbage, 10.0.0.1", None),
    ],
)
def test_client_ip_takes_the_right_most_untrusted_hop(header: str, client: str | None) -> None:
    entry = _entry(orjson.dumps({"msg": "GET /", "x_forwarded_for": header}).decode())
    run_pipeline([ClientIP()], entry)
    assert entry.metadata.get("client_ip") == client


def test_health_checks_are_dropped_and_fields_become_metadata() -> None:
    stages: list[Stage] = [
        Drop("elb-health", "ELB-HealthChecker/", source="user_agent"),
        Extract(fields=("appointmentId", "userId")),
        Level(),
    ]
    health = _entry('{"user_agent":"ELB-HealthChecker/2.0","level":"INFO"}')
    assert run_pipeline(stages, health) is stages[0]
    real = _entry('{"user_agent":"Mozilla","level":"WARN","appointmentId":42,"userId":"u-7"}')
    assert run_pipeline(stages, real) is None
    assert real.metadata == {"appointmentId": "42", "userId": "u-7", "level": "warn"}


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("level=error msg=boom", "error"),
        ('{"severity":"WARNING"}', "warn"),
        ("2024-05-01 10:00:00 ERROR [main] failed", "error"),
        ("2024-05-01 10:00:00.123  INFO 1 --- [main] started", "info"),
        ("just text", None),
    ],
)
def test_level_detection(line: str, level: str | None) -> None:
    entry = _entry(line)
    run_pipeline([Level()], entry)
    assert entry.metadata.get("level") == level


def test_a_huge_line_costs_linear_time_in_every_stage() -> None:
    """A 4 MiB line without spaces (a minified blob, a runaway loop): the logfmt reader and
    the multiline patterns once backtracked on every character of such a line."""
    line = "y" * (4 << 20)
    entry = _entry(line)
    assert run_pipeline([Drop("noise", "ELB"), Extract(), Level(), ClientIP()], entry) is None
    merger = MultilineMerger(MultilineRule())
    assert merger.push(Line(0, line, P, P), 0.0) is None
    assert merger.push(Line(1, "next", P, P), 0.0) == Line(0, line, P, P)
