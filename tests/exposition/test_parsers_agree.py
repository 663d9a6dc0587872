"""Every exposition parser a user reaches, fed the same generated bodies (valid and slightly
broken), reaches the same verdict and the same samples: names, labels, values bit for bit
(NaN included) and timestamps.

- A scrape (`scan`: its vectorised reading, falling back to the line parsers), a second scrape
  of the body with the first one's series cache, and the line parser a scrape falls back to
  must agree exactly.
- The strict readers (`vigil check metrics`, the textfile collector's text reader) judge as
  promtool does: what a scrape accepts, they accept with the same samples or refuse. In the
  text format promtool also takes two things Prometheus's scrape refuses (held to both real
  programs in test_differential_promtool.py and test_scrape_prometheus.py): a sample line
  that starts with a blank, and a timestamp with a sign.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzzing import DERANDOMIZE, examples
from vigil.exposition import Format, MetricFamily, ParseError
from vigil.exposition.check import check_body
from vigil.exposition.openmetrics import parse_openmetrics
from vigil.exposition.scan import NO_TIMESTAMP, ScrapeBatch, SeriesCache, decode_body, scan
from vigil.exposition.text import TextParser, parse_text
from vigil.model import Labels

Row = tuple[str, Labels, int, int]  # name, labels, value bits, timestamp (ms or NO_TIMESTAMP)
Outcome = list[Row] | str  # the samples, or "refused"
REFUSED = "refused"


def _bits(value: float) -> int:
    return int(np.float64(value).view(np.int64))


def _in_series_order(rows: list[Row]) -> list[Row]:
    """Rows by series, each series' samples in body order (the text reader groups a body's
    samples by family; only the order within a series can change what is stored)."""
    return sorted(rows, key=lambda row: (row[0], tuple(row[1])))


def _batch_rows(batch: ScrapeBatch) -> list[Row]:
    return _in_series_order(
        [
            (name, labels, _bits(value), int(ts))
            for (name, labels), value, ts in zip(
                batch.labels, batch.values.tolist(), batch.timestamps.tolist(), strict=True
            )
        ]
    )


def _family_rows(families: list[MetricFamily]) -> list[Row]:
    return _in_series_order(
        [
            (
                s.name,
                s.labels,
                _bits(s.value),
                NO_TIMESTAMP if s.timestamp_ms is None else s.timestamp_ms,
            )
            for family in families
            for s in family.samples
        ]
    )


def _outcome(read: Callable[[], list[Row]]) -> Outcome:
    try:
        return read()
    except ParseError:
        return REFUSED


def _check(body: bytes, fmt: Format) -> Outcome:
    result = check_body(body, fmt, with_lint=False)
    return REFUSED if result.error is not None else _family_rows(result.families)


def assert_parsers_agree(body: bytes, fmt: Format) -> None:
    cache = SeriesCache(fmt)
    first = _outcome(lambda: _batch_rows(scan(body, fmt, cache)))
    second = _outcome(lambda: _batch_rows(scan(body, fmt, cache)))  # with the first's cache
    if fmt is Format.OPENMETRICS:
        line_parser = _outcome(
            lambda: _family_rows(parse_openmetrics(decode_body(body), strict=False))
        )
        strict = [
            _check(body, fmt),
            _outcome(lambda: _family_rows(parse_openmetrics(decode_body(body)))),
        ]
    else:
        line_parser = _outcome(
            lambda: _family_rows(TextParser(decode_body(body), strict=False).parse())
        )
        strict = [_check(body, fmt), _outcome(lambda: _family_rows(parse_text(decode_body(body))))]
    assert (second, line_parser) == (first, first)
    for verdict in strict:
        if first == REFUSED and fmt is Format.TEXT and _PROMTOOL_ONLY.search(body):
            continue
        assert verdict in (REFUSED, first)


# A sample line starting with a blank, or ending in a signed timestamp.
_PROMTOOL_ONLY = re.compile(rb"^[ \t]+[^ \t\n#]|^[^#\n][^\n]*[ \t][+-][0-9]+[ \t]*$", re.M)


# --- generated bodies -------------------------------------------------------------------------
# Each pool starts with what is valid in both formats; the rest is valid in one format only,
# or in neither, and is what a "slightly broken" line draws from.

NAMES = ["a", "a_total", "a_bucket", "a_count", "a_sum", "a_created", "a_info", "c:d", "_e"]
LABELS = [
    "",
    '{x="1"}',
    '{le="1"}',
    '{le="+Inf"}',
    '{quantile="0.5"}',
    '{x="1",y="2"}',
    '{y="2",x="1"}',
    '{x="q\\"uote"}',
    '{x="a\\\\b\\n"}',
    '{x="} 1 # {"}',
    '{x="é☃"}',
    '{x=""}',
    "{}",
    '{x="\\q"}',
    '{x="1",}',
    '{x="1",x="2"}',
    '{__name__="n"}',
    "{x=1}",
    '{x="1" y="2"}',
    '{"x.y"="1"}',
]
VALID_LABELS = 12
VALUES = [
    "1",
    "0",
    "-0",
    "-2.5",
    "1e3",
    "1E-3",
    "+Inf",
    "-Inf",
    "NaN",
    "9007199254740993",
    "1e-400",
]
BROKEN_VALUES = [
    ".5",
    "5.",
    "+1",
    "Inf",
    "nan",
    "Infinity",
    "1e400",
    "0x1p3",
    "1_0",
    "00012",
    "x",
    "",
]
TEXT_TIMESTAMPS = ["", " 0", " 123", " -5", " 9223372036854775807"]
OM_TIMESTAMPS = ["", " 0", " 123", " -5", " 1.5", " 1.0005", " 1e3", " 12345678901234567890.1"]
BROKEN_TIMESTAMPS = [" +7", " 9223372036854775808", " NaN", " Inf", " 1 2", " 1.5", " 1e3"]
EXEMPLARS = ["", "", ' # {a="b"} 1', ' # {a="b"} 1 123', " # {} 0.5"]
BROKEN_EXEMPLARS = [' # {a="b"}', " # x", " #", ' # {a="b"} 1 1 1', ' # {a="b"} NaN x']
COMMENTS = ["# HELP a some help", "# TYPE a gauge", "# TYPE a counter", "# TYPE a histogram"]
TEXT_COMMENTS = ["# TYPE a untyped", "# HELP a_total x\\ny", "# plain comment", "#", "# EOF"]
OM_COMMENTS = ["# TYPE a info", "# TYPE a summary", "# UNIT a_s s", "# HELP a_total x\\ny"]
BROKEN_COMMENTS = ["# HELP a", "# TYPE a bogus", "# UNIT a x", "# plain comment", "#"]


def _sample_line(fmt: Format, *, broken: bool) -> st.SearchStrategy[str]:
    om = fmt is Format.OPENMETRICS
    labels = LABELS if broken else LABELS[:VALID_LABELS]
    values = VALUES + BROKEN_VALUES if broken else VALUES
    stamps = OM_TIMESTAMPS if om else TEXT_TIMESTAMPS
    stamps = stamps + BROKEN_TIMESTAMPS if broken else stamps
    exemplars = (EXEMPLARS + BROKEN_EXEMPLARS if broken else EXEMPLARS) if om else [""]
    return st.builds(
        lambda name, lab, value, ts, ex: (
            f"{name}{lab} {value}{ts}{ex if broken or name.endswith(('_total', '_bucket')) else ''}"
        ),
        st.sampled_from(NAMES),
        st.sampled_from(labels),
        st.sampled_from(values),
        st.sampled_from(stamps),
        st.sampled_from(exemplars),
    )


def _comment_line(fmt: Format, *, broken: bool) -> st.SearchStrategy[str]:
    own = OM_COMMENTS if fmt is Format.OPENMETRICS else TEXT_COMMENTS
    return st.sampled_from(COMMENTS + own + (BROKEN_COMMENTS if broken else []))


@st.composite
def _bodies(draw: st.DrawFn, fmt: Format) -> bytes:
    """A valid body (by its format's syntax), then at most one small break: a line drawn
    from everything, a blank line, a tab, a doubled or trailing space, a carriage return, a
    quote or brace, a line of a byte not UTF-8, a missing `# EOF`."""
    valid = st.one_of(
        _sample_line(fmt, broken=False),
        _sample_line(fmt, broken=False),
        _comment_line(fmt, broken=False),
    )
    lines = draw(st.lists(valid, min_size=0, max_size=8))
    text = "\n".join(lines)
    match draw(st.integers(0, 9)) if lines else 0:
        case 1 | 2:
            broken = st.one_of(_sample_line(fmt, broken=True), _comment_line(fmt, broken=True))
            lines[draw(st.integers(0, len(lines) - 1))] = draw(broken)
            text = "\n".join(lines)
        case 3:
            at = draw(st.integers(0, len(text)))
            char = draw(st.sampled_from(["\n", "\t", " ", "\r", "\\", '"', "{", "}", ",", "#"]))
            text = text[:at] + char + text[at:]
        case 4:
            text += "\n"
    body = text.encode() + (b"\xff" if text.endswith("\n") and lines else b"")
    if fmt is Format.OPENMETRICS and draw(st.integers(0, 9)):
        body += b"\n# EOF" if body and not body.endswith(b"\n") else b"# EOF"
    return body + draw(st.sampled_from([b"\n", b"\n", b""]))


_SETTINGS = settings(
    max_examples=examples(400),
    derandomize=DERANDOMIZE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@_SETTINGS
@given(_bodies(Format.OPENMETRICS))
@example(b'a{x="} 1 # {"} 1 1e3\n# EOF\n')  # a scrape cut the series at the quoted '}'
@example(b"a 1 12345678901234567890.1\n# EOF\n")  # a scrape crashed on int64 overflow
@example(b'a_total 1 # {a="b"}\n# EOF\n')  # a scrape took the broken exemplar
def test_openmetrics_parsers_agree(body: bytes) -> None:
    assert_parsers_agree(body, Format.OPENMETRICS)


@_SETTINGS
@given(_bodies(Format.TEXT))
def test_text_parsers_agree(body: bytes) -> None:
    assert_parsers_agree(body, Format.TEXT)
