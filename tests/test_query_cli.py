"""`vigil query`: output formatting (what promtool prints), flag parsing, failures.
Output against real servers is compared with promtool in tests/web/test_promtool_query.py."""

from __future__ import annotations

import io

import pytest

from tests.conftest import free_port
from vigil.cmd import build_parser
from vigil.cmd.query import (
    QueryCommandError,
    format_label_set,
    format_metric,
    format_result,
    parse_go_duration,
    run,
)


@pytest.mark.parametrize(
    ("labels", "metric", "label_set"),
    [
        ({}, "{}", "{}"),
        ({"__name__": "up"}, "up", '{__name__="up"}'),
        ({"b": "2", "a": "1"}, '{a="1", b="2"}', '{a="1", b="2"}'),
        (
            {"__name__": "x", "v": 'q"\\\n\t\x01é'},
            'x{v="q\\"\\\\\\n\\t\\x01é"}',
            '{__name__="x", v="q\\"\\\\\\n\\t\\x01é"}',
        ),
    ],
)
def test_metric_and_label_set(labels: dict[str, str], metric: str, label_set: str) -> None:
    assert (format_metric(labels), format_label_set(labels)) == (metric, label_set)


@pytest.mark.parametrize(
    ("data", "want"),
    [
        ({"resultType": "vector", "result": []}, ""),
        ({"resultType": "scalar", "result": [10.5, "2"]}, "scalar: 2 @[10.5]"),
        ({"resultType": "string", "result": [10, "hi"]}, "hi"),
        (
            {
                "resultType": "vector",
                "result": [
                    {"metric": {"__name__": "up", "job": "b"}, "value": [1, "NaN"]},
                    {"metric": {"__name__": "up", "job": "a"}, "value": [1, "+Inf"]},
                ],
            },
            'up{job="b"} => NaN @[1]\nup{job="a"} => +Inf @[1]',  # the server's order
        ),
        (
            {
                "resultType": "matrix",
                "result": [
                    {"metric": {"job": "b"}, "values": [[1, "1"], [2.5, "1e-3"]]},
                    {"metric": {"job": "a"}, "values": [[1, "3"]]},
                ],
            },
            '{job="a"} =>\n3 @[1]\n{job="b"} =>\n1 @[1]\n0.001 @[2.5]',  # sorted by labels
        ),
    ],
)
def test_format_result(data: dict[str, object], want: str) -> None:
    assert format_result(data) == want


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("250ms", 0.25), ("0", 0.0)],
)
def test_go_duration(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("30", 'time: missing unit in duration "30"'),
        ("abc", 'time: invalid duration "abc"'),
        ("", 'time: invalid duration ""'),
        ("5d", 'time: invalid duration "5d"'),
    ],
)
def test_bad_go_duration(text: str, error: str) -> None:
    with pytest.raises(QueryCommandError, match=error):
        parse_go_duration(text)


def _vigil_query(*argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["query", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out, err, clock=lambda: 1_700_000_000.0)
    return code, out.getvalue(), err.getvalue()


def test_unreachable_server_is_a_query_error() -> None:
    code, out, err = _vigil_query("instant", f"http://127.0.0.1:{free_port()}", "up")
    assert (code, out) == (1, "")
    assert err.startswith("query error: ConnectError")


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["range", "--step=30", "http://127.0.0.1:1", "up"], 'missing unit in duration "30"'),
        (["range", "--start=2", "--end=1", "http://127.0.0.1:1", "up"], "start time is not"),
        (["instant", "--time=yesterday", "http://127.0.0.1:1", "up"], 'cannot parse "yesterday"'),
    ],
)
def test_bad_flags_fail_before_asking(argv: list[str], error: str) -> None:
    code, out, err = _vigil_query(*argv)
    assert (code, out) == (1, "")
    assert error in err and not err.startswith("query error")


def test_series_needs_a_match() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["query", "series", "http://127.0.0.1:1"])
