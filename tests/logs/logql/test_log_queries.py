"""Log queries over MemoryLogStore: each stage's result against what the test computes itself
from the raw pushed lines (with json, re and plain Python, never vigil's LogQL code)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import numpy as np
import pytest

from vigil.logs import Entries, Lines, MemoryLogStore
from vigil.logs.logql import Direction, LogQLEngine, QueryLimitError, Streams
from vigil.model import Labels

T0 = 1_700_000_000 * 10**9
SECOND = 10**9

PROD = {"job": "app", "env": "prod"}
DEV = {"job": "app", "env": "dev"}
NGINX = {"job": "nginx"}

JSON_LINES = [
    '{"level":"info","msg":"started","status":200,"latency":"120ms","user":{"id":"u1"}}',
    '{"level":"error","msg":"db timeout","status":500,"latency":"2.5s","user":{"id":"u2"}}',
    '{"level":"warn","msg":"slow","status":404,"latency":"900ms"}',
    "not json at all error",
    '{"level":"error","msg":"Error: disk full","status":503,"latency":"40ms","env":"x"}',
    '{"level":"info","msg":"ok","status":"n/a"}',
]
LOGFMT_LINES = [
    'level=info msg="request done" duration=1.5s size=2KB path=/api',
    "level=error msg=boom duration=200ms size=12MB path=/upload",
    'level=debug msg="colour \x1b[31mred\x1b[0m" duration=3s path=/',
    "level=info standalone duration=10ms path=/health",
]
NGINX_LINES = [
    '10.0.0.1 - - [07/Dec/2026:10:00:00] "GET /index.html HTTP/1.1" 200 512',
    '192.168.1.20 - - [07/Dec/2026:10:00:01] "POST /login HTTP/1.1" 401 64',
    '10.0.0.7 - - [07/Dec/2026:10:00:02] "GET /favicon.ico HTTP/1.1" 404 0',
]


def _rows() -> list[tuple[dict[str, str], int, str]]:
    rows = []
    for labels, lines, first in (
        (PROD, JSON_LINES, 0),
        (DEV, LOGFMT_LINES, 100),
        (NGINX, NGINX_LINES, 200),
    ):
        rows += [(labels, T0 + (first + i) * SECOND, line) for i, line in enumerate(lines)]
    return rows


ROWS = _rows()


@pytest.fixture(scope="module")
def engine() -> LogQLEngine:
    store = MemoryLogStore()
    for labels in (PROD, DEV, NGINX):
        mine = [(t, line) for lbls, t, line in ROWS if lbls is labels]
        store.push(
            [
                Entries(
                    Labels.from_dict(labels),
                    np.array([t for t, _ in mine], dtype=np.int64),
                    Lines.of([line for _, line in mine]),
                )
            ]
        )
    return LogQLEngine(store)


Result = list[tuple[dict[str, str], int, str]]


def _flat(streams: Streams) -> Result:
    return sorted(
        (
            (dict(s.labels), int(t), line)
            for s in streams.streams
            for t, line in zip(s.timestamps, s.lines, strict=True)
        ),
        key=lambda r: (r[1], sorted(r[0].items())),
    )


def _want(rows: Result) -> Result:
    return sorted(rows, key=lambda r: (r[1], sorted(r[0].items())))


def _of(*streams: dict[str, str]) -> list[tuple[dict[str, str], int, str]]:
    return [r for r in ROWS if any(r[0] is s for s in streams)]


def _json_labels(stream: dict[str, str], line: str) -> dict[str, str]:
    """Loki's json parser, written out for the test: nested keys joined by `_`, strings and
    numbers as text, a key clashing with a stream label gets `_extracted`."""
    try:
        obj = json.loads(line)
    except ValueError:
        return {**stream, "__error__": "JSONParserErr"}
    out = dict(stream)

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}_" if isinstance(v, dict) else f"{prefix}{k}", v)
        elif isinstance(value, str | int | float):
            key = prefix if prefix not in stream else prefix + "_extracted"
            out[key] = str(value)

    walk("", obj)
    return out


def _logfmt_labels(stream: dict[str, str], line: str) -> dict[str, str]:
    out = dict(stream)
    for key, quoted, bare in re.findall(r'(\w+)(?:=(?:"([^"]*)"|(\S*)))?', line):
        value = quoted or bare
        if value:
            out[key] = value
    return out


def _no_error_details(rows: Result) -> Result:
    return [
        ({k: v for k, v in labels.items() if k != "__error_details__"}, t, line)
        for labels, t, line in rows
    ]


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0}
    number, unit = re.fullmatch(r"([\d.]+)(ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * units[unit]


CASES: list[tuple[str, Callable[[], Result]]] = [
    ('{job="app"} |= "error"', lambda: [r for r in _of(PROD, DEV) if "error" in r[2]]),
    ('{job="app"} != "error"', lambda: [r for r in _of(PROD, DEV) if "error" not in r[2]]),
    ('{job="app"} |~ "(?i)ERROR"', lambda: [r for r in _of(PROD, DEV) if "error" in r[2].lower()]),
    (
        '{job="app"} |= "timeout" or "boom"',
        lambda: [r for r in _of(PROD, DEV) if "timeout" in r[2] or "boom" in r[2]],
    ),
    (
        '{job="app"} != "info" or "error"',
        lambda: [r for r in _of(PROD, DEV) if "info" not in r[2] and "error" not in r[2]],
    ),
    (
        '{job="app"} |~ `status":5\\d\\d`',
        lambda: [r for r in _of(PROD) if re.search(r'status":5\d\d', r[2])],
    ),
    (
        '{job=~"app|nginx"} !~ "GET|level"',
        lambda: [r for r in ROWS if not re.search("GET|level", r[2])],
    ),
    ('{job="nginx"} |> "<_> \\"GET <_>"', lambda: [r for r in _of(NGINX) if '"GET ' in r[2]]),
    (
        '{job="nginx"} |= ip("10.0.0.0/24")',
        lambda: [r for r in _of(NGINX) if r[2].startswith("10.0.0.")],
    ),
    (
        '{job="nginx"} != ip("192.168.1.1-192.168.1.100")',
        lambda: [r for r in _of(NGINX) if not r[2].startswith("192.168.1.20 ")],
    ),
    (
        '{env="prod"} | json',
        lambda: [(_json_labels(r[0], r[2]), r[1], r[2]) for r in _of(PROD)],
    ),
    (
        '{env="prod"} | json | level="error"',
        lambda: [
            (_json_labels(r[0], r[2]), r[1], r[2]) for r in _of(PROD) if '"level":"error"' in r[2]
        ],
    ),
    (
        '{env="prod"} | json | __error__=""',
        lambda: [(_json_labels(r[0], r[2]), r[1], r[2]) for r in _of(PROD) if r[2].startswith("{")],
    ),
    (
        '{env="prod"} | json status, user="user.id" | drop __error__, __error_details__',
        lambda: [
            (
                {
                    **r[0],
                    **{
                        k: v
                        for k, v in {
                            "status": str(json.loads(r[2]).get("status", "")),
                            "user": json.loads(r[2]).get("user", {}).get("id", ""),
                        }.items()
                        if v
                    },
                },
                r[1],
                r[2],
            )
            if r[2].startswith("{")
            else (r[0], r[1], r[2])
            for r in _of(PROD)
        ],
    ),
    (
        '{env="prod"} | json | status >= 500',
        lambda: (
            [
                (_json_labels(r[0], r[2]), r[1], r[2])
                for r in _of(PROD)
                if r[2].startswith("{")
                and str(json.loads(r[2])["status"]).isdigit()
                and json.loads(r[2])["status"] >= 500
            ]
            + [
                ({**_json_labels(r[0], r[2]), "__error__": "LabelFilterErr"}, r[1], r[2])
                for r in _of(PROD)
                if r[2].startswith("{") and not str(json.loads(r[2])["status"]).isdigit()
            ]
        ),
    ),
    (
        '{env="prod"} | json | latency > 500ms | line_format "{{.level}}: {{.msg}}"',
        lambda: [
            (
                _json_labels(r[0], r[2]),
                r[1],
                f"{json.loads(r[2])['level']}: {json.loads(r[2])['msg']}",
            )
            for r in _of(PROD)
            if r[2].startswith("{")
            and "latency" in r[2]
            and _seconds(json.loads(r[2])["latency"]) > 0.5
        ],
    ),
    (
        '{env="dev"} | logfmt | duration > 1s or size > 10MB',
        lambda: [
            (_logfmt_labels(r[0], r[2]), r[1], r[2])
            for r in _of(DEV)
            if "duration=1.5s" in r[2] or "duration=3s" in r[2] or "size=12MB" in r[2]
        ],
    ),
    (
        '{env="dev"} | logfmt | keep level, path',
        lambda: [
            (
                {k: v for k, v in _logfmt_labels(r[0], r[2]).items() if k in ("level", "path")},
                r[1],
                r[2],
            )
            for r in _of(DEV)
        ],
    ),
    (
        '{env="dev"} | logfmt | drop msg, path=~"/api|/"',
        lambda: [
            (
                {
                    k: v
                    for k, v in _logfmt_labels(r[0], r[2]).items()
                    if k != "msg" and not (k == "path" and v in ("/api", "/"))
                },
                r[1],
                r[2],
            )
            for r in _of(DEV)
        ],
    ),
    (
        '{env="dev"} | logfmt | label_format where=path, lvl="{{ ToUpper .level }}"',
        lambda: [
            (
                {
                    **{k: v for k, v in _logfmt_labels(r[0], r[2]).items() if k != "path"},
                    "where": _logfmt_labels(r[0], r[2])["path"],
                    "lvl": _logfmt_labels(r[0], r[2])["level"].upper(),
                },
                r[1],
                r[2],
            )
            for r in _of(DEV)
        ],
    ),
    (
        '{env="dev"} |= "colour" | decolorize',
        lambda: [
            (r[0], r[1], re.sub(r"\x1b\[[0-9;]*m", "", r[2])) for r in _of(DEV) if "colour" in r[2]
        ],
    ),
    (
        '{job="nginx"} | pattern "<ip> - - [<_>] \\"<method> <path> <_>\\" <status> <size>" | status != 200',
        lambda: [
            (
                {
                    **r[0],
                    **dict(
                        zip(("ip", "method", "path", "status", "size"), m.groups(), strict=True)
                    ),
                },
                r[1],
                r[2],
            )
            for r in _of(NGINX)
            if (m := re.fullmatch(r'(\S+) - - \[[^]]*\] "(\S+) (\S+) [^"]*" (\d+) (\d+)', r[2]))
            and m.group(4) != "200"
        ],
    ),
    (
        '{job="nginx"} | regexp `^(?P<ip>\\S+) .* (?P<status>\\d{3}) ` | ip = ip("10.0.0.0/8")',
        lambda: [
            ({**r[0], "ip": r[2].split()[0], "status": r[2].split()[-2]}, r[1], r[2])
            for r in _of(NGINX)
            if r[2].startswith("10.")
        ],
    ),
    (
        '{job="nginx"} | line_format "{{ __line__ | trunc 8 }}"',
        lambda: [(r[0], r[1], r[2][:8]) for r in _of(NGINX)],
    ),
]


@pytest.mark.parametrize(("query", "want"), CASES, ids=[q for q, _ in CASES])
def test_log_query_matches_the_lines_computed_from_the_raw_push(
    engine: LogQLEngine, query: str, want: Callable[[], Result]
) -> None:
    result = engine.query(query, T0, T0 + 1000 * SECOND, limit=1000)
    assert isinstance(result.value, Streams)
    got = _no_error_details(_flat(result.value))
    assert got == _want(
        [({k: v for k, v in labels.items() if v}, t, line) for labels, t, line in want()]
    )


def test_backward_limit_keeps_the_newest_lines_newest_first_per_stream(engine: LogQLEngine) -> None:
    result = engine.query(
        '{job=~".+"}', T0, T0 + 1000 * SECOND, direction=Direction.BACKWARD, limit=4
    )
    assert isinstance(result.value, Streams)
    newest = sorted(ROWS, key=lambda r: r[1])[-4:]
    want = {}
    for labels, t, line in reversed(newest):
        want.setdefault(tuple(sorted(labels.items())), []).append((t, line))
    got = {
        tuple(s.labels): list(zip(s.timestamps.tolist(), s.lines, strict=True))
        for s in result.value.streams
    }
    assert (got, result.stats.entries_returned, result.stats.lines_processed) == (
        want,
        4,
        len(ROWS),
    )


def test_forward_limit_keeps_the_oldest_lines_oldest_first(engine: LogQLEngine) -> None:
    result = engine.query(
        '{job="app"}', T0, T0 + 1000 * SECOND, direction=Direction.FORWARD, limit=3
    )
    assert isinstance(result.value, Streams)
    got = [(dict(s.labels), s.timestamps.tolist(), list(s.lines)) for s in result.value.streams]
    oldest = sorted(_of(PROD, DEV), key=lambda r: r[1])[:3]
    assert got == [(PROD, [r[1] for r in oldest], [r[2] for r in oldest])]


def test_time_range_is_inclusive(engine: LogQLEngine) -> None:
    result = engine.query('{job="nginx"}', T0 + 200 * SECOND, T0 + 201 * SECOND, limit=10)
    assert isinstance(result.value, Streams)
    assert sorted(line for s in result.value.streams for line in s.lines) == sorted(NGINX_LINES[:2])


def test_a_limit_above_max_entries_is_refused() -> None:
    engine = LogQLEngine(MemoryLogStore(), max_entries=10)
    with pytest.raises(QueryLimitError, match=r"max entries limit per query exceeded.*\(11 > 10\)"):
        engine.query('{job="x"}', 0, 1, limit=11)


def test_the_byte_budget_stops_a_query() -> None:
    store = MemoryLogStore()
    store.push(
        [
            Entries(
                Labels.from_dict({"job": "x"}),
                np.arange(100, dtype=np.int64),
                Lines.of(["y" * 100] * 100),
            )
        ]
    )
    with pytest.raises(QueryLimitError, match="more than 5000 bytes"):
        LogQLEngine(store, max_bytes=5000).query('{job="x"}', 0, 1000, limit=10)


def test_structured_metadata_is_labels_of_its_line() -> None:
    store = MemoryLogStore()
    meta = (Labels.from_dict({"trace_id": "abc"}), Labels(), Labels.from_dict({"trace_id": "def"}))
    lines = ["first", "second", "third"]
    ts = np.array([1, 2, 3], dtype=np.int64)
    store.push([Entries(Labels.from_dict({"job": "x"}), ts, Lines.of(lines), meta)])
    engine = LogQLEngine(store)
    got = {
        query: _flat(value)
        for query in (
            '{job="x"} | trace_id="abc"',
            '{job="x"} | trace_id=""',
            '{job="x"} | drop trace_id',
        )
        if isinstance(value := engine.query(query, 0, 10, limit=10).value, Streams)
    }
    assert got == {
        '{job="x"} | trace_id="abc"': [({"job": "x", "trace_id": "abc"}, 1, "first")],
        '{job="x"} | trace_id=""': [({"job": "x"}, 2, "second")],
        '{job="x"} | drop trace_id': [
            ({"job": "x"}, t, line) for t, line in zip([1, 2, 3], lines, strict=True)
        ],
    }


@pytest.mark.parametrize("limit", [1, 7, 45])
@pytest.mark.parametrize("direction", [Direction.BACKWARD, Direction.FORWARD])
def test_a_limit_smaller_than_each_push_keeps_the_first_lines_in_its_direction(
    direction: Direction, limit: int
) -> None:
    store = MemoryLogStore()
    for push in range(3):
        ts = T0 + (push * 20 + np.arange(20, dtype=np.int64) // 2) * SECOND
        store.push(
            [
                Entries(Labels.from_dict({"job": job}), ts, Lines.of([f"{job} {t}" for t in ts]))
                for job in ("a", "b")
            ]
        )
    result = LogQLEngine(store).query(
        '{job=~"a|b"}', T0, T0 + 100 * SECOND, direction=direction, limit=limit
    )
    assert isinstance(result.value, Streams)
    backward = direction is Direction.BACKWARD
    every = sorted(T0 + (push * 20 + i // 2) * SECOND for push in range(3) for i in range(20)) * 2
    got = [
        (s.labels.get("job"), t, line)
        for s in result.value.streams
        for t, line in zip(s.timestamps.tolist(), s.lines, strict=True)
    ]
    assert (
        sorted(t for _, t, _ in got),
        all(line == f"{job} {t}" for job, t, line in got),
        all(
            sorted(s.timestamps.tolist(), reverse=backward) == s.timestamps.tolist()
            for s in result.value.streams
        ),
    ) == (sorted(sorted(every, reverse=backward)[:limit]), True, True)
