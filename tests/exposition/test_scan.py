"""The scrape path: fast and line-by-line readings agree, errors name the line, caching works."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import CONFORMANCE, FIXTURES
from tests.fuzzing import DERANDOMIZE, examples
from vigil.exposition import Format, ParseError
from vigil.exposition.scan import (
    NO_TIMESTAMP,
    SETTLED,
    SampleLimitReached,
    ScrapeBatch,
    SeriesCache,
    _scan_openmetrics_fast,
    _scan_slow,
    _scan_text_fast,
    detect_format,
    scan,
    scan_steps,
)
from vigil.exposition.text import TextParser
from vigil.model import Labels

NODE = (FIXTURES / "exposition" / "node-exporter-1.5.0.txt").read_bytes()


def _fast(body: bytes, fmt: Format) -> ScrapeBatch | None:
    """The fast reading alone, run to its end."""
    read = _scan_openmetrics_fast if fmt is Format.OPENMETRICS else _scan_text_fast
    steps = read(body, SeriesCache(fmt), 0)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _rows(batch: ScrapeBatch, fmt: Format = Format.TEXT) -> list[tuple[str, Labels, str, int]]:
    labels = SeriesCache(fmt).resolve(batch.series)
    return [
        (name, lab, value.hex(), int(ts))
        for (name, lab), value, ts in zip(labels, batch.values, batch.timestamps, strict=True)
    ]


def test_node_exporter_takes_the_fast_path() -> None:
    fast = _fast(NODE, Format.TEXT)
    assert fast is not None
    assert len(fast) == 507
    assert _rows(fast) == _rows(_scan_slow(NODE, Format.TEXT))
    assert fast.metadata["node_cpu_seconds_total"].type.value == "counter"


@pytest.mark.parametrize("name", ["1histogram.om.txt", "alltypes.5mfs.om.txt"])
def test_openmetrics_fast_equals_slow(name: str) -> None:
    body = (CONFORMANCE / "exposition" / name).read_bytes()
    fast = _fast(body, Format.OPENMETRICS)
    assert fast is not None
    om = Format.OPENMETRICS
    assert _rows(fast, om) == _rows(_scan_slow(body, om), om)


_line = st.builds(
    lambda name, labels, value, ts: f"{name}{labels} {value}{ts}",
    st.sampled_from(["a", "b_total", "c:d", "_e"]),
    st.sampled_from(["", "{}", '{x="1"}', '{x="1",y="q\\"uote"}', '{x="a\\\\b\\n"}', '{x="1",}']),
    st.sampled_from(["1", "-2.5", "1e3", "+Inf", "-Inf", "NaN", ".5", "nan", "Infinity", "0"]),
    st.sampled_from(["", " 123", " -5", " +7", " 1234567890123456789"]),
)
_comment = st.sampled_from(["# HELP a some help", "# TYPE a gauge", "# plain comment", "#"])


@pytest.mark.parametrize("slice_bytes", [1, 64, 1000])
def test_a_body_read_in_slices_is_read_the_same(
    slice_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _rows(scan(NODE, Format.TEXT))
    monkeypatch.setattr("vigil.exposition.scan._SLICE_BYTES", slice_bytes)
    steps = scan_steps(NODE, Format.TEXT)
    pauses = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            batch = done.value
            break
        pauses += 1
    assert (_rows(batch), batch.metadata) == (whole, scan(NODE, Format.TEXT).metadata)
    assert pauses > len(NODE) // max(slice_bytes, 200) // 4


def test_sample_limit_stops_reading_at_the_slice_that_exceeds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("vigil.exposition.scan._SLICE_BYTES", 1000)
    steps = scan_steps(NODE, Format.TEXT, max_samples=20)
    with pytest.raises(SampleLimitReached) as info:
        while True:
            next(steps)
    assert 20 < info.value.seen < 60


@settings(max_examples=examples(200), derandomize=DERANDOMIZE, deadline=None)
@given(st.lists(st.one_of(_line, _comment, st.just(""), st.just("  a 2")), min_size=1, max_size=8))
def test_fast_and_slow_paths_agree(lines: list[str]) -> None:
    body = ("\n".join(lines) + "\n").encode()
    assert _outcome(lambda: scan(body, Format.TEXT)) == _outcome(
        lambda: _scan_slow(body, Format.TEXT)
    )


def _outcome(read: Callable[[], ScrapeBatch]) -> list[tuple[str, Labels, str, int]] | str:
    try:
        return _rows(read())
    except ParseError as err:
        return str(err)


@pytest.mark.parametrize(
    ("body", "fmt", "where"),
    [
        (b'up 1\nnode_load1{a="b" 1\n', Format.TEXT, (2, 18)),
        (b"up 1\nup 0x1\n", Format.TEXT, (2, 4)),
        (b'up 1\nx{a="1",a="2"} 1\n', Format.TEXT, (2, 9)),
        (b'up 1\nx{__name__="y"} 1\n', Format.TEXT, (2, 3)),
        (b"up 1\n# EOF\ngarbage\n", Format.OPENMETRICS, (3, 1)),
        (b"up 1\n", Format.OPENMETRICS, (2, 1)),
        (b"a 1\n\xff 2\n", Format.TEXT, (2, 1)),
    ],
)
def test_broken_body_is_one_error_with_position(
    body: bytes, fmt: Format, where: tuple[int, int]
) -> None:
    with pytest.raises(ParseError) as info:
        scan(body, fmt)
    assert (info.value.line, info.value.col) == where


def test_values_and_timestamps_columns() -> None:
    batch = scan(b'a 1 1000\nb{c="d"} NaN\nc +Inf\n', Format.TEXT)
    assert batch.series == [b"a", b'b{c="d"}', b"c"]
    assert batch.values[0] == 1 and np.isnan(batch.values[1]) and batch.values[2] == np.inf
    assert batch.timestamps.tolist() == [1000, NO_TIMESTAMP, NO_TIMESTAMP]
    assert batch.labels == [("a", Labels()), ("b", Labels.from_dict({"c": "d"})), ("c", Labels())]


def test_openmetrics_timestamps_are_seconds() -> None:
    batch = scan(b"# TYPE a gauge\na 1 1.5\n# EOF\n", Format.OPENMETRICS)
    assert batch.timestamps.tolist() == [1500]


def test_openmetrics_timestamps_are_cut_to_the_millisecond_as_prometheus_does() -> None:
    """Prometheus 2.42 stores the first three at .000, .001 and .999 (measured by scraping
    them; rounding gave .001, .002 and 1.000); Go's int64() cuts a negative one toward zero."""
    body = b"a 1 1796600000.0009\nb 1 1796600000.0015\nc 1 1796600000.9996\nd 1 -1.0009\n# EOF\n"
    want = [1796600000000, 1796600000001, 1796600000999, -1000]
    assert scan(body, Format.OPENMETRICS).timestamps.tolist() == want
    assert _scan_slow(body, Format.OPENMETRICS).timestamps.tolist() == want


def test_cache_parses_each_series_once() -> None:
    cache = SeriesCache(Format.TEXT)
    first = scan(b'a{x="1"} 1\na{x="2"} 2\n', Format.TEXT, cache)
    assert len(cache) == 2
    second = scan(b'a{x="1"} 3\na{x="2"} 4\n', Format.TEXT, cache)
    assert second.labels[0] is first.labels[0]
    cache.retain([b'a{x="1"}'])
    assert len(cache) == 1


def test_settled_series_stay_known_without_their_labels() -> None:
    cache = SeriesCache(Format.TEXT)
    first = scan(b'a{x="1"} 1\na{x="2"} 2\n', Format.TEXT, cache)
    cache.settle([b'a{x="1"}'])
    assert first.labels == [SETTLED, ("a", Labels.from_dict({"x": "2"}))]
    again = scan(b'a{x="1"} 3\na{x="2"} 4\n', Format.TEXT, cache)  # the same layout
    reordered = scan(b'a{x="3"} 5\na{x="2"} 6\na{x="1"} 7\n', Format.TEXT, cache)
    assert (again.labels, again.values.tolist()) == (first.labels, [3.0, 4.0])
    assert reordered.labels == [
        ("a", Labels.from_dict({"x": "3"})),
        ("a", Labels.from_dict({"x": "2"})),
        SETTLED,
    ]
    with pytest.raises(ParseError):
        scan(b'a{x="1"} 1\na{x="1",x="2"} 2\n', Format.TEXT, cache)


@pytest.mark.parametrize(
    ("fmt", "end"), [(Format.TEXT, b""), (Format.OPENMETRICS, b"# EOF\n")], ids=str
)
def test_cache_reuses_the_metadata_while_the_comment_lines_stay_the_same(
    fmt: Format, end: bytes
) -> None:
    cache = SeriesCache(fmt)
    body = b"# HELP a First.\n# TYPE a gauge\na 1\n" + end
    first = scan(body, fmt, cache).metadata
    again = scan(body.replace(b"a 1", b"a 2"), fmt, cache).metadata
    changed = scan(body.replace(b"First", b"Second"), fmt, cache).metadata
    assert (again is first, first["a"].help, changed["a"].help) == (True, "First.", "Second.")


def test_metadata_of_scrape_is_lenient_like_prometheus() -> None:
    # promtool rejects TYPE after samples; a scrape (like Prometheus's) does not.
    body = b"a 1\n# TYPE a gauge\n"
    with pytest.raises(ParseError):
        TextParser(body.decode()).parse()
    assert len(scan(body, Format.TEXT)) == 1


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b"a 1\n# EOF\n", Format.OPENMETRICS),
        (b"a 1\n# EOF", Format.OPENMETRICS),
        (b"a 1\n", Format.TEXT),
    ],
)
def test_detect_format(body: bytes, fmt: Format) -> None:
    assert detect_format(body) is fmt


@pytest.mark.parametrize(
    ("body", "want"),
    [
        (b"a 1", [("a", Labels(), 1.0, NO_TIMESTAMP)]),
        (b"a 1 5 \nb 2\t\n", [("a", Labels(), 1.0, 5), ("b", Labels(), 2.0, NO_TIMESTAMP)]),
        (b'a{b="\\q"} 1\n', [("a", Labels([("b", "\\q")]), 1.0, NO_TIMESTAMP)]),
        (b"  a 1\n", None),
        (b"a 1 -5\n", None),
        (b"a 1 +5\n", None),
    ],
)
def test_text_scrape_reads_as_prometheus_does(
    body: bytes, want: list[tuple[str, Labels, float, int]] | None
) -> None:
    """Where Prometheus's scrape and promtool read the text format differently, a scrape
    answers as Prometheus does (a last line without its newline, blanks at the end, unknown
    escapes kept; a sample line starting with a blank or a signed timestamp refused)."""
    try:
        batch = scan(body, Format.TEXT)
    except ParseError:
        assert want is None
        return
    got = [
        (name, labels, value, ts)
        for (name, labels), value, ts in zip(
            batch.labels, batch.values.tolist(), batch.timestamps.tolist(), strict=True
        )
    ]
    assert got == want


def _read(body: bytes, fmt: Format, cache: SeriesCache) -> ScrapeBatch | str:
    try:
        return scan(body, fmt, cache)
    except ParseError as err:
        return f"ParseError: {err}"


def _as_table(read: ScrapeBatch | str) -> object:
    if isinstance(read, str):
        return read
    return (
        read.series,
        read.values.view(np.uint64).tolist(),
        read.timestamps.tolist(),
        read.labels,
        read.metadata,
    )


OM = b"# EOF\n"
HEAD = b"# HELP a A.\n# TYPE a counter\n"
# (name, format, body read first, body read next through the same cache, whether the next
# one has the first one's series in the same order: read without a regex or lookups)
SAME_SERIES_CASES = [
    ("new values", Format.TEXT, HEAD + b'a{x="1"} 1\nb 2\n', HEAD + b'a{x="1"} 10\nb 2.5\n', True),
    ("no space after }", Format.TEXT, b'a{x="1"}1\nb 2\n', b'a{x="1"}7\nb 8\n', True),
    ("last line without newline", Format.TEXT, b"a 1\nb 2", b"a 3\nb 4", True),
    (
        "NaN, infinities, the stale marker's bits, signs, exponents",
        Format.TEXT,
        b"a 1\nb 2\nc 3\nd 4\ne 5\n",
        b"a NaN\nb +Inf\nc -Inf\nd -0\ne 1.5E-3\n",
        True,
    ),
    (
        "spellings of numbers, 17 digits, 30 digits, the smallest subnormal",
        Format.TEXT,
        b"a 1\nb 2\nc 3\nd 4\ne 5\nf 6\ng 7\n",
        b"a +3\nb .5\nc 5.\nd 0.30000000000000004\ne 123456789012345678901234567890\n"
        b"f 4.9e-324\ng -0.0\n",
        True,
    ),
    ("a value beyond float64", Format.TEXT, b"a 1\n", b"a 1e999\n", False),
    ("two points", Format.TEXT, b"a 1\nb 2\n", b"a 1\nb 1.2.3\n", False),
    ("a sign inside", Format.TEXT, b"a 1\nb 2\n", b"a 1\nb 1-2\n", False),
    ("an exponent without digits", Format.TEXT, b"a 1\nb 2\n", b"a 1\nb 1e\n", False),
    ("Python's own spellings", Format.TEXT, b"a 1\nb 2\n", b"a 1_0\nb 0x10\n", False),
    ("a value that is no number", Format.TEXT, b"a 1\nb 2\n", b"a 1\nb 2x\n", False),
    ("a word for a value", Format.TEXT, b"a 1\n", b"a nan\n", False),
    ("an empty value", Format.TEXT, b"a 1\nb 2\n", b"a 1\nb \n", False),
    ("a timestamp appears", Format.TEXT, b"a 1\nb 2\n", b"a 1 1000\nb 2\n", False),
    ("timestamps are never remembered", Format.TEXT, b"a 1 1000\n", b"a 1 2000\n", False),
    ("a series added", Format.TEXT, b"a 1\n", b"a 1\nb 2\n", False),
    ("a series removed", Format.TEXT, b"a 1\nb 2\n", b"a 1\n", False),
    ("series reordered", Format.TEXT, b"a 1\nb 2\n", b"b 2\na 1\n", False),
    ("a label value of the same length", Format.TEXT, b'a{x="1"} 1\n', b'a{x="2"} 1\n', False),
    ("values of other lengths", Format.TEXT, b"ab 1\nc 22\n", b"ab 12.5\nc 2\n", True),
    ("HELP changed", Format.TEXT, HEAD + b"a 1\n", HEAD.replace(b"A.", b"B.") + b"a 1\n", False),
    ("a blank line", Format.TEXT, b"a 1\nb 2\n", b"a 1\n\nb 2\n", False),
    ("a broken line", Format.TEXT, b"a 1\nb 2\n", b"a 1\nb{x=} 2\n", False),
    (
        "a classic histogram",
        Format.TEXT,
        b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n',
        b'# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 5\nh_sum 7.5\nh_count 5\n',
        True,
    ),
    (
        "OpenMetrics",
        Format.OPENMETRICS,
        HEAD + b"a_total 1\n" + OM,
        HEAD + b"a_total 2\n" + OM,
        True,
    ),
    ("OpenMetrics without last newline", Format.OPENMETRICS, b"a 1\n# EOF", b"a 2\n# EOF", True),
    ("OpenMetrics, EOF missing", Format.OPENMETRICS, b"a 1\n" + OM, b"a 2\n", False),
    (
        "OpenMetrics, an exemplar appears",
        Format.OPENMETRICS,
        HEAD + b"a_total 1\n" + OM,
        HEAD + b'a_total 2 # {t="1"} 1\n' + OM,
        False,
    ),
    (
        "OpenMetrics, a timestamp in seconds appears",
        Format.OPENMETRICS,
        b"a 1\n" + OM,
        b"a 2 1.5\n" + OM,
        False,
    ),
]


@pytest.mark.parametrize(
    ("fmt", "first", "then", "same"),
    [case[1:] for case in SAME_SERIES_CASES],
    ids=[case[0] for case in SAME_SERIES_CASES],
)
def test_a_body_with_the_last_series_reads_as_a_fresh_cache_does(
    fmt: Format, first: bytes, then: bytes, same: bool
) -> None:
    cache = SeriesCache(fmt)
    before = scan(first, fmt, cache)
    read = _read(then, fmt, cache)
    fresh = _read(then, fmt, SeriesCache(fmt))
    taken = not isinstance(read, str) and read.series is before.series
    assert (_as_table(read), taken) == (_as_table(fresh), same)


def test_a_body_read_after_a_failed_one_is_read_in_full() -> None:
    cache = SeriesCache(Format.TEXT)
    scan(b"a 1\n", Format.TEXT, cache)
    with pytest.raises(ParseError):
        scan(b"a x\n", Format.TEXT, cache)
    assert scan(b"a 2\n", Format.TEXT, cache).values.tolist() == [2.0]


def test_a_body_with_the_last_series_still_counts_against_the_sample_limit() -> None:
    cache = SeriesCache(Format.TEXT)
    scan(b"a 1\nb 2\n", Format.TEXT, cache)
    steps = scan_steps(b"a 3\nb 4\n", Format.TEXT, cache, max_samples=1)
    with pytest.raises(SampleLimitReached):
        while True:
            next(steps)


@settings(max_examples=examples(200), deadline=None, derandomize=DERANDOMIZE)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True).map(lambda v: repr(v).encode()),
            st.integers(-(10**20), 10**20).map(lambda v: str(v).encode()),
            st.from_regex(rb"\A[+-]?[0-9]{0,19}\.?[0-9]{0,4}([eE][+-]?[0-9]{1,3})?\Z"),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_values_of_a_body_with_the_last_series_are_what_float_reads(values: list[bytes]) -> None:
    names = [f"m{i}".encode() for i in range(len(values))]
    cache = SeriesCache(Format.TEXT)
    scan(b"".join(n + b" 0\n" for n in names), Format.TEXT, cache)
    then = b"".join(n + b" " + v + b"\n" for n, v in zip(names, values, strict=True))
    read, fresh = (
        _read(then, Format.TEXT, cache),
        _read(then, Format.TEXT, SeriesCache(Format.TEXT)),
    )
    assert _as_table(read) == _as_table(fresh)


def test_cache_keeps_one_object_per_label_pair_and_metric_name() -> None:
    body = b'a{x="1",y="2"} 1\na{x="1",y="3"} 2\n'
    (name, labels), (other_name, other) = scan(body, Format.TEXT, SeriesCache(Format.TEXT)).labels
    assert (name is other_name, labels[0] is other[0], labels[1] is other[1]) == (True, True, False)
