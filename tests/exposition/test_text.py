"""Text format 0.0.4: what is accepted, and the exact line/column/message of each rejection."""

from __future__ import annotations

import pytest

from vigil.exposition import MetricType, ParseError
from vigil.exposition.text import TextParser, parse_text
from vigil.model import Labels

REJECT = [
    ("no newline at end", "a 1", (1, 4, "unexpected end of input: the last line has no newline")),
    ("unquoted value", "a{b=c} 1\n", (1, 5, "expected '\"' at start of label value, found 'c'")),
    ("missing =", 'a{job"x"} 1\n', (1, 6, "expected '=' after label name \"job\", found '\"'")),
    ("bad escape", 'a{b="\\x"} 1\n', (1, 6, "invalid escape sequence '\\x'")),
    ("duplicate label", 'a{b="1",b="2"} 1\n', (1, 9, 'duplicate label name "b" for metric "a"')),
    ("reserved label", 'a{__name__="x"} 1\n', (1, 3, 'label name "__name__" is reserved')),
    ("hex value", "a 0x1p-3\n", (1, 3, 'expected float as value, got "0x1p-3"')),
    ("overflow", "a 1e400\n", (1, 3, 'expected float as value, got "1e400"')),
    ("float timestamp", "a 1 1.5\n", (1, 5, 'expected integer as timestamp, got "1.5"')),
    ("trailing blank", "a 1 \n", (1, 5, 'expected integer as timestamp, got ""')),
    ("spurious", "a 1 2 3\n", (1, 6, 'spurious string after timestamp: " 3"')),
    ("dot in name", "a.b 1\n", (1, 2, "expected ' ' or '{' after metric name 'a', found '.'")),
    ("no value", "a\n", (1, 2, 'expected float as value, got ""')),
    ("crlf", "a 1\r\n", (1, 3, 'expected float as value, got "1\\r"')),
    ("second HELP", "# HELP a x\n# HELP a y\n", (2, 1, 'second HELP line for metric name "a"')),
    (
        "TYPE after samples",
        "a 1\n# TYPE a gauge\n",
        (2, 1, 'second TYPE line for metric name "a", or TYPE reported after samples'),
    ),
    ("unknown type", "# TYPE a info\n", (1, 10, 'unknown metric type "info"')),
    (
        "bad le",
        '# TYPE a histogram\na_bucket{le="x"} 1\n',
        (2, 14, "expected float as value for 'le' label, got \"x\""),
    ),
    ("HELP escape", '# HELP a x\\"y\n', (1, 11, "invalid escape sequence '\\\"'")),
    ("empty label name", "a{,} 1\n", (1, 3, 'invalid label name for metric "a"')),
    (
        "line number",
        'a 1\nb 2\n\nc{d="e" 3\n',
        (4, 9, "expected ',' or '}' after label value \"e\", found '3'"),
    ),
]


@pytest.mark.parametrize(("body", "want"), [c[1:] for c in REJECT], ids=[c[0] for c in REJECT])
def test_rejects(body: str, want: tuple[int, int, str]) -> None:
    with pytest.raises(ParseError) as info:
        parse_text(body)
    assert (info.value.line, info.value.col, info.value.message) == want


ACCEPT = [
    ("plain", "a 1\n", [("a", {}, 1.0, None)]),
    ("timestamp", "a 1 -5\n", [("a", {}, 1.0, -5)]),
    ("blanks", '  a \t{ b = "c" , } \t 2\n', [("a", {"b": "c"}, 2.0, None)]),
    ("no blank after brace", 'a{b="c"}1\n', [("a", {"b": "c"}, 1.0, None)]),
    ("escapes", 'a{b="x\\"y\\\\z\\n"} 1\n', [("a", {"b": 'x"y\\z\n'}, 1.0, None)]),
    (
        "go floats",
        "a +Inf\nb -inf\nc Nan\nd .5\ne 5.\n",
        [
            ("a", {}, float("inf"), None),
            ("b", {}, float("-inf"), None),
            ("c", {}, None, None),
            ("d", {}, 0.5, None),
            ("e", {}, 5.0, None),
        ],
    ),
    (
        "quoted utf-8 name",
        '{"my.metric", "label.x"="v"} 3\n',
        [("my.metric", {"label.x": "v"}, 3.0, None)],
    ),
    ("comments and blanks", "# hello\n\n#\n# HELP\na 1\n", [("a", {}, 1.0, None)]),
]


@pytest.mark.parametrize(("body", "want"), [c[1:] for c in ACCEPT], ids=[c[0] for c in ACCEPT])
def test_accepts(
    body: str, want: list[tuple[str, dict[str, str], float | None, int | None]]
) -> None:
    samples = [s for f in parse_text(body) for s in f.samples]
    got = [
        (s.name, s.labels.to_dict(), None if s.value != s.value else s.value, s.timestamp_ms)
        for s in samples
    ]
    assert got == want


def test_families_types_and_help() -> None:
    body = (
        "# HELP req_total Requests.\\nAll of them.\n# TYPE req_total counter\n"
        'req_total{code="200"} 3\n'
        "# TYPE lat summary\n"
        'lat{quantile="0.5"} 1\nlat_sum 2\nlat_count 3\n'
        '# TYPE h gauge_histogram\nh_bucket{le="+Inf"} 1\n'
        "# TYPE u untyped\nu 1\n"
    )
    families = parse_text(body)
    assert [(f.name, f.type, f.help, len(f.samples)) for f in families] == [
        ("req_total", MetricType.COUNTER, "Requests.\nAll of them.", 1),
        ("lat", MetricType.SUMMARY, None, 3),
        # As in promtool: buckets of a gauge_histogram are a family of their own.
        ("h_bucket", MetricType.UNKNOWN, None, 1),
        ("u", MetricType.UNKNOWN, None, 1),
    ]
    assert families[0].samples[0].labels == Labels.from_dict({"code": "200"})


def test_duplicates_and_split_families_are_problems_not_errors() -> None:
    parser = TextParser('a{b="c"} 1\nb 1\na{b="c"} 2\n')
    families = parser.parse()
    assert [len(f.samples) for f in families] == [2, 1]
    assert [p.text for p in parser.problems] == [
        "samples are not grouped together (again on line 3)",
        'duplicate series a{b="c"} on line 3',
    ]
