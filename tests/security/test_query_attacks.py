"""Requests that once killed, froze or exhausted `vigil server`, sent to a live server beside the
real Prometheus 2.42: each must answer with the status and error type in the table, within a
bounded time and peak-RSS growth, while /-/healthy keeps answering."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.security.conftest import LiveServer, health_watched, send

pytestmark = pytest.mark.slow


@dataclass(frozen=True, slots=True)
class Attack:
    name: str
    method: str
    path: str
    params: dict[str, str]
    vigil: tuple[int, str | None]
    # Prometheus's answer to the same request; None where it is not sent, because Prometheus
    # itself takes minutes (the reason is in the name).
    prometheus: tuple[int, str | None] | None
    seconds: float = 5.0


def _parens(n: int) -> str:
    return "(" * n + "1" + ")" * n


ATTACKS = [
    # Prometheus parses these (slowly); vigil refuses them before its parser could overflow.
    Attack(
        "10,000 nested parentheses",
        "POST",
        "/api/v1/query",
        {"query": _parens(10_000)},
        (400, "bad_data"),
        (200, None),
    ),
    Attack(
        "4,000-term sum",
        "POST",
        "/api/v1/query",
        {"query": "+".join(["1"] * 4_000)},
        (400, "bad_data"),
        (200, None),
    ),
    Attack(
        "nesting at vigil's bound",
        "POST",
        "/api/v1/query",
        {"query": _parens(256)},
        (200, None),
        (200, None),
    ),
    Attack(
        "format_query, 3,000 parentheses (Prometheus: over a minute)",
        "POST",
        "/api/v1/format_query",
        {"query": _parens(3_000)},
        (400, "bad_data"),
        None,
    ),
    Attack(
        "parse_query, 10,000 parentheses (Prometheus 3 only)",
        "POST",
        "/api/v1/parse_query",
        {"query": _parens(10_000)},
        (400, "bad_data"),
        None,
    ),
    Attack(
        "unclosed string of 20,000 escaped quotes",
        "POST",
        "/api/v1/query",
        {"query": '"' + '\\"' * 20_000},
        (400, "bad_data"),
        (400, "bad_data"),
    ),
    Attack(
        "2,000 operators at vigil's bound",
        "POST",
        "/api/v1/query",
        {"query": " * ".join(["(" + "+".join(["1"] * 100) + ")"] * 19)},
        (200, None),
        (200, None),
    ),
    Attack(
        "series match[] of 10,000 parentheses",
        "POST",
        "/api/v1/series",
        {"match[]": _parens(10_000)},
        (400, "bad_data"),
        (400, "bad_data"),
    ),
    # Sample bombs: both servers run with --query.max-samples=100000.
    Attack(
        "subquery of a day at 1ms",
        "GET",
        "/api/v1/query",
        {"query": "count_over_time(vector(1)[1d:1ms])"},
        (422, "execution"),
        (422, "execution"),
    ),
    Attack(
        "subquery of 30 days at 1ms",
        "GET",
        "/api/v1/query",
        {"query": "count_over_time(vector(1)[30d:1ms])"},
        (422, "execution"),
        (422, "execution"),
    ),
    Attack(
        "subquery of 10 years at 1ms (Prometheus: spins past its timeout)",
        "GET",
        "/api/v1/query",
        {"query": "count_over_time(vector(1)[10y:1ms])"},
        (422, "execution"),
        None,
    ),
    Attack(
        "subquery just under max-samples",
        "GET",
        "/api/v1/query",
        {"query": "count_over_time(vector(1)[30s:1ms])"},
        (200, None),
        (200, None),
    ),
    Attack(
        "subquery just over max-samples",
        "GET",
        "/api/v1/query",
        {"query": "count_over_time(vector(1)[2m:1ms])"},
        (422, "execution"),
        (422, "execution"),
    ),
    Attack(
        "range query of a day at 1ms steps",
        "GET",
        "/api/v1/query_range",
        {"query": "vector(1)", "start": "0", "end": "86400", "step": "0.001"},
        (400, "bad_data"),
        (400, "bad_data"),
    ),
    # Parameters far out of range.
    Attack(
        "@ far beyond int64",
        "GET",
        "/api/v1/query",
        {"query": "up @ 1e300"},
        (400, "bad_data"),
        (400, "bad_data"),
    ),
    Attack(
        "timeout of 10^14 years",
        "GET",
        "/api/v1/query",
        {"query": "up", "timeout": "99999999999999y"},
        (400, "bad_data"),
        (400, "bad_data"),
    ),
    Attack(
        "timeout of 10^10 seconds",
        "GET",
        "/api/v1/query",
        {"query": "up", "timeout": "1e10"},
        (400, "bad_data"),
        (400, "bad_data"),
    ),
    Attack(
        "exemplars of a garbage query",
        "GET",
        "/api/v1/query_exemplars",
        {"query": "((("},
        (400, "bad_data"),
        (400, "bad_data"),
    ),
    # Prometheus 3 takes any UTF-8 label name, as vigil does; 2.42 refuses legacy-invalid ones.
    Attack(
        "values of a label name outside the legacy charset",
        "GET",
        "/api/v1/label/0bad-na me/values",
        {},
        (200, None),
        (400, "bad_data"),
    ),
    Attack(
        "timeout of zero",
        "GET",
        "/api/v1/query",
        {"query": "up", "timeout": "0s"},
        (503, "timeout"),
        (503, "timeout"),
    ),
    Attack(
        "negative timeout",
        "GET",
        "/api/v1/query",
        {"query": "up", "timeout": "-1"},
        (503, "timeout"),
        (503, "timeout"),
    ),
    Attack(
        "form body of 11 MB",
        "POST",
        "/api/v1/query",
        {"query": "1", "pad": "x" * (11 << 20)},
        (400, "bad_data"),
        (400, "bad_data"),
    ),
    Attack("POST to /api/v1/alerts", "POST", "/api/v1/alerts", {}, (405, None), (405, None)),
    Attack(
        "@ past year 9999", "GET", "/api/v1/query", {"query": "up @ 1e12"}, (200, None), (200, None)
    ),
]

PEAK_RSS_GROWTH_KIB = 100 * 1024
HEALTHY_WITHIN_S = 5.0  # a frozen loop took 7.6 s to minutes; a busy CI machine up to ~2 s


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_vigil_survives(vigil: LiveServer, attack: Attack) -> None:
    before = vigil.reset_peak_rss()
    with health_watched(vigil) as watch:
        status, error_type, seconds = send(vigil, attack.method, attack.path, attack.params)
    grown = vigil.peak_rss_kib() - before
    assert (status, error_type) == attack.vigil
    assert seconds < attack.seconds
    assert grown < PEAK_RSS_GROWTH_KIB, f"peak RSS grew {grown} KiB"
    assert [a for a in watch.answers if a[0] != 200 or a[1] > HEALTHY_WITHIN_S] == []


COMPARED = [a for a in ATTACKS if a.prometheus is not None]


@pytest.mark.parametrize("attack", COMPARED, ids=[a.name for a in COMPARED])
def test_prometheus_answers_as_the_table_says(prometheus: LiveServer, attack: Attack) -> None:
    status, error_type, _ = send(prometheus, attack.method, attack.path, attack.params)
    assert (status, error_type) == attack.prometheus
