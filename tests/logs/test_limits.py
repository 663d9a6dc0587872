"""Loki's limits, one case each: what a push past a limit stores, what it refuses under
which reason, and a message naming the limit and the stream or label."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.logs import Entries, Lines
from vigil.logs.limits import MIB, LogLimits, RateLimiter, default_max_streams
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels

NOW_S = 1_700_000_000.0
NOW = int(NOW_S * 10**9)
MINUTE = 60 * 10**9
APP = Labels.from_dict({"job": "app"})


def _push(labels: Labels, lines: list[str], ts: list[int] | None = None) -> Entries:
    times = ts if ts is not None else [NOW + i for i in range(len(lines))]
    return Entries(labels, np.array(times, dtype=np.int64), Lines.of(lines))


@dataclass(frozen=True)
class Case:
    name: str
    push: list[Entries]
    accepted: int
    refused: list[tuple[str, int]]  # reason, lines
    says: str = ""  # in the first refusal's message
    limits: LogLimits = field(default_factory=LogLimits)


MANY = Labels.from_dict({f"l{i:02d}": "v" for i in range(16)})
CASES = [
    Case("within every limit", [_push(APP, ["a", "b"])], 2, []),
    Case("no labels", [_push(Labels(), ["a"])], 0, [("missing_labels", 1)], "at least one label"),
    Case(
        "16 label names",
        [_push(MANY, ["a"]), _push(APP, ["kept"])],
        1,
        [("max_label_names_per_series", 1)],
        "16 label names; limit 15 (max_label_names_per_series)",
    ),
    Case(
        "label name of 1025 bytes",
        [_push(Labels.from_dict({"n" * 1025: "v"}), ["a"])],
        0,
        [("label_name_too_long", 1)],
        "max_label_name_length",
    ),
    Case(
        "label value of 2049 bytes",
        [_push(Labels.from_dict({"job": "v" * 2049}), ["a", "b"])],
        0,
        [("label_value_too_long", 2)],
        "max_label_value_length",
    ),
    Case(
        "label name that is not a Prometheus name",
        [_push(Labels.from_dict({"bad-name": "v"}), ["a"])],
        0,
        [("invalid_labels", 1)],
        "invalid label name 'bad-name'",
    ),
    Case(
        "the same label name twice",
        [_push(Labels((("job", "a"), ("job", "b"))), ["a"])],
        0,
        [("duplicate_label_names", 1)],
        "duplicate label name: 'job'",
    ),
    Case(
        "a line over 256 KiB among short ones",
        [_push(APP, ["short", "x" * (256 * 1024 + 1), "short"])],
        2,
        [("line_too_long", 1)],
        "max entry size '262144' bytes exceeded for stream '{job=\"app\"}'",
    ),
    Case(
        "long lines truncated when asked",
        [_push(APP, ["x" * 20, "short"])],
        2,
        [],
        limits=LogLimits(max_line_size=10, max_line_size_truncate=True),
    ),
    Case(
        "older than a week",
        [_push(APP, ["old", "new"], [NOW - 7 * 1440 * MINUTE - 1, NOW])],
        1,
        [("greater_than_max_sample_age", 1)],
        "timestamp too old",
    ),
    Case(
        "older than a week with reject_old_samples off",
        [_push(APP, ["old"], [NOW - 8 * 1440 * MINUTE])],
        1,
        [],
        limits=LogLimits(reject_old_samples=False),
    ),
    Case(
        "over ten minutes in the future",
        [_push(APP, ["soon", "later"], [NOW + 10 * MINUTE, NOW + 10 * MINUTE + 1])],
        1,
        [("too_far_in_future", 1)],
        "creation_grace_period",
    ),
    Case(
        "a push bigger than the rate's burst",
        [_push(APP, ["x" * 600]), _push(Labels.from_dict({"job": "db"}), ["y" * 600])],
        0,
        [("rate_limited", 1), ("rate_limited", 1)],
        "ingestion_rate_mb",
        LogLimits(ingestion_burst_size_mb=1000 / MIB),
    ),
    Case(
        "a stream past the stream limit",
        [_push(APP, ["a"]), _push(Labels.from_dict({"job": "db"}), ["b", "c"])],
        1,
        [("stream_limit", 2)],
        "max_global_streams_per_user (1)",
        LogLimits(max_global_streams_per_user=1),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_push_past_a_limit(tmp_path: Path, case: Case) -> None:
    registry = CollectorRegistry()
    options = LogStoreOptions(limits=case.limits)
    with LogStore.open(tmp_path, options, clock=lambda: NOW_S, registry=registry) as store:
        result = store.push(case.push)
        stored = store.querier(0, 2**62).stats([]).entries
    refused = [(d.reason, d.lines) for d in result.discarded]
    assert (result.accepted_lines, stored, refused) == (case.accepted, case.accepted, case.refused)
    if case.says:
        assert case.says in result.discarded[0].message
    for reason in {r for r, _ in refused}:
        counted = registry.get_sample_value("vigil_logs_discarded_lines_total", {"reason": reason})
        assert counted == sum(n for r, n in refused if r == reason)
    assert registry.get_sample_value("vigil_logs_ingested_lines_total") == case.accepted


def test_truncated_lines_are_stored_cut_to_the_limit(tmp_path: Path) -> None:
    options = LogStoreOptions(limits=LogLimits(max_line_size=4, max_line_size_truncate=True))
    with LogStore.open(tmp_path, options, clock=lambda: NOW_S) as store:
        store.push([_push(APP, ["abcdefgh", "xy", "1234"])])
        got = [list(e.lines) for e in store.querier(0, 2**62).select([])]
    assert got == [[b"abcd", b"xy", b"1234"]]


def test_ingestion_rate_refills_with_the_clock() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_mb=1.0, burst_mb=2.0, clock=lambda: now[0])
    allowed = [limiter.allow(MIB), limiter.allow(MIB), limiter.allow(1)]
    now[0] = 0.5
    allowed += [limiter.allow(MIB // 2), limiter.allow(1)]
    now[0] = 100.0
    allowed += [limiter.allow(2 * MIB), limiter.allow(2 * MIB + 1)]
    assert allowed == [True, True, False, True, False, True, False]


def test_an_ingestion_rate_of_zero_sets_no_limit() -> None:
    limiter = RateLimiter(rate_mb=0.0, burst_mb=0.0, clock=lambda: 0.0)
    assert [limiter.allow(64 * MIB) for _ in range(3)] == [True, True, True]


@pytest.mark.parametrize(
    ("memory", "streams"),
    [(0, 0), (64 << 20, 1000), (1 << 30, 8192), (764 << 20, 6112)],
)
def test_stream_budget_follows_memory(memory: int, streams: int) -> None:
    assert default_max_streams(memory) == streams
