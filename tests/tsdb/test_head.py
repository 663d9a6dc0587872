"""Head: Prometheus's matcher semantics at the index level, append ordering rules, bit-exact
values, series limit, truncation."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.model import Labels, Matcher
from vigil.tsdb import STALE_NAN
from vigil.tsdb.head import Head
from vigil.tsdb.head_append import (
    DUPLICATE,
    OUT_OF_BOUNDS,
    OUT_OF_ORDER,
    SERIES_LIMIT,
    TOO_FAR_IN_FUTURE,
    AppendError,
)
from vigil.tsdb.head_state import HeadOptions, SeriesTable
from vigil.tsdb.postings import literal_alternatives

SERIES = [
    {"__name__": "up", "job": "node", "instance": "a:9100"},
    {"__name__": "up", "job": "app", "instance": "b:80"},
    {"__name__": "up", "job": "", "instance": "c:1"},  # an empty value is no label at all
    {"__name__": "http_requests_total", "job": "app", "code": "200"},
    {"__name__": "http_requests_total", "job": "app", "code": "500"},
    {"__name__": "node_load1", "instance": "a:9100"},
    {"__name__": "multi", "msg": "line1\nline2"},
]


def _head_with_series() -> Head:
    head = Head()
    appender = head.appender()
    for i, pairs in enumerate(SERIES):
        labels = Labels.from_dict({k: v for k, v in pairs.items() if v})
        appender.append(labels, 1000, float(i))
    appender.commit()
    return head


def _names(head: Head, matchers: list[Matcher]) -> list[str]:
    found = head.querier(0, 10_000).select(matchers)
    return sorted(
        f"{s.labels.get('__name__')}/{s.labels.get('job')}/{s.labels.get('code')}" for s in found
    )


M = Matcher.of
MATCHER_CASES = [
    (
        "equal",
        [M("job", "=", "app")],
        ["http_requests_total/app/200", "http_requests_total/app/500", "up/app/"],
    ),
    ("equal empty = missing", [M("__name__", "=", "up"), M("job", "=", "")], ["up//"]),
    (
        "not equal includes missing",
        [M("__name__", "=", "up"), M("job", "!=", "app")],
        ["up//", "up/node/"],
    ),
    (
        "not equal empty = has label",
        [M("code", "!=", "")],
        ["http_requests_total/app/200", "http_requests_total/app/500"],
    ),
    ("regex fully anchored", [M("job", "=~", "ap")], []),
    (
        "regex prefix",
        [M("__name__", "=~", "http_.*")],
        ["http_requests_total/app/200", "http_requests_total/app/500"],
    ),
    ("regex literal alternation", [M("code", "=~", "200|404")], ["http_requests_total/app/200"]),
    (
        "regex grouped alternation",
        [M("code", "=~", "(?:500|404)")],
        ["http_requests_total/app/500"],
    ),
    (
        "regex matching empty includes missing",
        [M("__name__", "=~", "up"), M("job", "=~", "node|")],
        ["up//", "up/node/"],
    ),
    (
        "regex dot-star matches everything",
        [M("__name__", "=~", "up"), M("job", "=~", ".*")],
        ["up//", "up/app/", "up/node/"],
    ),
    (
        "regex dot-plus needs the label",
        [M("__name__", "=~", "up"), M("job", "=~", ".+")],
        ["up/app/", "up/node/"],
    ),
    (
        "not regex includes missing",
        [M("__name__", "=", "up"), M("job", "!~", "no.*")],
        ["up//", "up/app/"],
    ),
    (
        "not regex literal set",
        [M("__name__", "=", "http_requests_total"), M("code", "!~", "200|201")],
        ["http_requests_total/app/500"],
    ),
    (
        "not regex empty = has label",
        [M("job", "!~", "")],
        ["http_requests_total/app/200", "http_requests_total/app/500", "up/app/", "up/node/"],
    ),
    (
        "name regex alternation",
        [M("__name__", "=~", "node_load1|up")],
        ["node_load1//", "up//", "up/app/", "up/node/"],
    ),
    ("name negative regex", [M("__name__", "!~", "up|http.*|multi")], ["node_load1//"]),
    ("dot matches newline", [M("msg", "=~", "line1.line2")], ["multi//"]),
    (
        "intersection",
        [M("__name__", "=~", ".+"), M("instance", "=", "a:9100"), M("job", "!=", "node")],
        ["node_load1//"],
    ),
    ("no such value", [M("job", "=", "nope")], []),
    (
        "no such label, negative",
        [M("__name__", "=", "up"), M("nolabel", "!=", "x")],
        ["up//", "up/app/", "up/node/"],
    ),
    ("case sensitive", [M("job", "=~", "APP")], []),
    (
        "case-insensitive flag",
        [M("job", "=~", "(?i)APP")],
        ["http_requests_total/app/200", "http_requests_total/app/500", "up/app/"],
    ),
]


@pytest.mark.parametrize(
    ("name", "matchers", "want"), MATCHER_CASES, ids=[c[0] for c in MATCHER_CASES]
)
def test_select_matches_prometheus_semantics(
    name: str, matchers: list[Matcher], want: list[str]
) -> None:
    head = _head_with_series()
    assert _names(head, matchers) == want
    # The index-level selection agrees with single-series matching (the oracle in vigil.model).
    oracle = [
        labels
        for labels in (Labels.from_dict({k: v for k, v in s.items() if v}) for s in SERIES)
        if all(m.matches_labels(labels) for m in matchers)
    ]
    assert head.querier(0, 10_000).series(matchers) == sorted(oracle)


LITERAL_CASES = [
    ("a|b|c", ["a", "b", "c"]),
    ("(?:a|b)", ["a", "b"]),
    ("(x|y)", ["x", "y"]),
    (r"a\.b|c", ["a.b", "c"]),
    ("a|", ["a", ""]),
    ("a.*", None),
    (r"\d", None),
    ("(a)|(b)", None),
    ("(?i)a|b", None),
    ("[ab]", None),
]


@pytest.mark.parametrize(("pattern", "want"), LITERAL_CASES)
def test_literal_alternatives(pattern: str, want: list[str] | None) -> None:
    assert literal_alternatives(pattern) == want


def _bits(value: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])


NAN_PAYLOAD = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000ABC))[0]

# (name, transactions of (t, value), expected samples kept, expected rejections)
ORDER_CASES = [
    ("in order", [[(1, 1.0), (2, 2.0)]], [(1, 1.0), (2, 2.0)], {}),
    ("same t same value is deduped", [[(1, 1.0)], [(1, 1.0)]], [(1, 1.0)], {}),
    ("same t other value is a duplicate", [[(1, 1.0)], [(1, 2.0)]], [(1, 1.0)], {DUPLICATE: 1}),
    ("older is out of order", [[(5, 1.0)], [(3, 2.0)]], [(5, 1.0)], {OUT_OF_ORDER: 1}),
    (
        "order checked within one commit",
        [[(5, 1.0), (3, 2.0), (6, 3.0)]],
        [(5, 1.0), (6, 3.0)],
        {OUT_OF_ORDER: 1},
    ),
    ("dup within one commit", [[(5, 1.0), (5, 2.0), (5, 1.0)]], [(5, 1.0)], {DUPLICATE: 1}),
    ("NaN dedup compares bits", [[(1, NAN_PAYLOAD)], [(1, NAN_PAYLOAD)]], [(1, NAN_PAYLOAD)], {}),
    (
        "stale vs NaN is a duplicate",
        [[(1, STALE_NAN)], [(1, NAN_PAYLOAD)]],
        [(1, STALE_NAN)],
        {DUPLICATE: 1},
    ),
    ("0.0 vs -0.0 is a duplicate", [[(1, 0.0)], [(1, -0.0)]], [(1, 0.0)], {DUPLICATE: 1}),
    (
        "too old is out of bounds",
        [[(10_000_000, 1.0)], [(10_000_000 - 3_600_001, 2.0)]],
        [(10_000_000, 1.0)],
        {OUT_OF_BOUNDS: 1},
    ),
]


@pytest.mark.parametrize(
    ("name", "transactions", "want", "rejected"), ORDER_CASES, ids=[c[0] for c in ORDER_CASES]
)
def test_append_ordering_rules(
    name: str,
    transactions: list[list[tuple[int, float]]],
    want: list[tuple[int, float]],
    rejected: dict[str, int],
) -> None:
    head = Head()
    labels = Labels.from_dict({"__name__": "m"})
    seen: dict[str, int] = {}
    for transaction in transactions:
        appender = head.appender()
        for t, v in transaction:
            appender.append(labels, t, v)
        appender.commit()
        for reason, count in appender.result.rejected.items():
            seen[reason] = seen.get(reason, 0) + count
    [series] = list(head.querier(0, 2**62).select([]))
    got = list(zip(series.timestamps.tolist(), series.values.view(np.uint64).tolist(), strict=True))
    assert (got, seen) == ([(t, _bits(v)) for t, v in want], rejected)


def test_batch_with_repeated_refs_matches_one_by_one() -> None:
    """append_batch's vectorised ordering check agrees with appending sample by sample."""
    rng = np.random.default_rng(7)
    labels = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(20)]
    refs_idx = rng.integers(0, 20, 3000)
    ts = rng.integers(0, 400, 3000)
    vs = rng.integers(0, 3, 3000).astype(np.float64)
    batched, single = Head(HeadOptions(chunk_samples=7)), Head(HeadOptions(chunk_samples=7))
    appender = batched.appender()
    refs = appender.refs_for(labels)
    appender.append_batch(refs[refs_idx], ts, vs)
    appender.commit()
    for i, t, v in zip(refs_idx.tolist(), ts.tolist(), vs.tolist(), strict=True):
        one = single.appender()
        one.append(labels[i], t, v)
        one.commit()

    def dump(head: Head) -> list[tuple[Labels, list[int], list[float]]]:
        return [
            (s.labels, s.timestamps.tolist(), s.values.tolist())
            for s in head.querier(0, 10**6).select([])
        ]

    assert dump(batched) == dump(single)


def test_special_values_round_trip_bit_exact() -> None:
    values = np.array(
        [STALE_NAN, NAN_PAYLOAD, float("nan"), -0.0, 0.0, float("inf"), float("-inf"), 5e-324]
    )
    head = Head(HeadOptions(chunk_samples=3))
    appender = head.appender()
    refs = appender.refs_for([Labels.from_dict({"__name__": "m"})])
    appender.append_batch(np.repeat(refs, len(values)), np.arange(len(values)), values)
    appender.append_by_ref(int(refs[0]), 100, STALE_NAN)
    appender.commit()
    [series] = list(head.querier(0, 1000).select([]))
    want = np.append(values, STALE_NAN)
    assert series.values.view(np.uint64).tolist() == want.view(np.uint64).tolist()


def test_out_of_order_window_accepts_recent_older_samples() -> None:
    head = Head(HeadOptions(out_of_order_time_window_ms=100))
    labels = Labels.from_dict({"__name__": "m"})
    for batch in ([(1000, 1.0)], [(950, 2.0), (950, 2.0), (960, 3.0), (800, 4.0)], [(950, 9.0)]):
        appender = head.appender()
        for t, v in batch:
            appender.append(labels, t, v)
        appender.commit()
    [series] = list(head.querier(0, 2000).select([]))
    assert (series.timestamps.tolist(), series.values.tolist()) == (
        [950, 960, 1000],
        [2.0, 3.0, 1.0],
    )
    assert appender.result.rejected == {DUPLICATE: 1}


def test_series_limit_refuses_new_series_only() -> None:
    head = Head(HeadOptions(max_series=2))
    appender = head.appender()
    names = ["a", "b", "c", "c", "d"]
    refs = appender.refs_for([Labels.from_dict({"__name__": n}) for n in names])
    assert refs.tolist() == [0, 1, -1, -1, -1]
    appender.append_batch(refs, np.full(5, 10), np.ones(5))
    appender.commit()
    with pytest.raises(AppendError) as err:
        appender.append(Labels.from_dict({"__name__": "e"}), 10, 1.0)
    assert (appender.result.appended, appender.result.rejected, err.value.reason) == (
        2,
        {SERIES_LIMIT: 3},
        SERIES_LIMIT,
    )
    assert head.refused_series_top(2) == [("c", 2), ("d", 1)]


NOW_MS = 1_700_000_000_000
MINUTE_MS = 60_000


@pytest.mark.parametrize(
    ("max_future_ms", "t_ms", "want_rejected"),
    [
        (10 * MINUTE_MS, NOW_MS + 10 * MINUTE_MS, {}),
        (10 * MINUTE_MS, NOW_MS + 10 * MINUTE_MS + 1, {TOO_FAR_IN_FUTURE: 1}),
        (10 * MINUTE_MS, 2**63 - 1, {TOO_FAR_IN_FUTURE: 1}),
        (0, NOW_MS + 10**12, {}),  # the bound turned off
    ],
)
def test_samples_beyond_now_plus_max_future_are_refused_before_their_series_exists(
    max_future_ms: int, t_ms: int, want_rejected: dict[str, int]
) -> None:
    registry = CollectorRegistry()
    clock = [NOW_MS / 1000]
    head = Head(HeadOptions(max_future_ms=max_future_ms), registry, clock=lambda: clock[0])
    appender = head.appender()
    ref = appender.append(Labels.from_dict({"__name__": "far"}), t_ms, 1.0)
    appender.commit()
    assert (ref >= 0, head.num_series, appender.result.rejected) == (
        not want_rejected,
        0 if want_rejected else 1,
        want_rejected,
    )
    refused = registry.get_sample_value(
        "prometheus_tsdb_out_of_bound_samples_total", {"type": "float"}
    )
    assert (refused or 0) == sum(want_rejected.values())
    appender.append(Labels.from_dict({"__name__": "now"}), NOW_MS, 1.0)
    appender.commit()
    # bounded, the head's max time stayed now; unbounded, one far sample pushed now out of bounds
    assert appender.result.appended == (1 if max_future_ms else 0)


def test_the_future_bound_follows_the_clock() -> None:
    clock = [NOW_MS / 1000]
    head = Head(HeadOptions(max_future_ms=MINUTE_MS), clock=lambda: clock[0])
    appender = head.appender()
    refs = appender.refs_for([Labels.from_dict({"__name__": "m"})])
    appender.append_batch(refs, np.array([NOW_MS + 2 * MINUTE_MS]), np.ones(1))
    appender.commit()
    clock[0] += 60
    appender.append_batch(refs, np.array([NOW_MS + 2 * MINUTE_MS]), np.ones(1))
    appender.commit()
    assert head.max_time == NOW_MS + 2 * MINUTE_MS


def test_truncate_drops_old_samples_and_empty_series() -> None:
    head = Head(HeadOptions(chunk_samples=4))
    appender = head.appender()
    refs = appender.refs_for(
        [Labels.from_dict({"__name__": "old"}), Labels.from_dict({"__name__": "new"})]
    )
    for t in range(0, 100, 10):
        appender.append_batch(refs, np.array([t, t]), np.array([1.0, 2.0]))
    appender.append_by_ref(int(refs[1]), 200, 3.0)
    appender.commit()
    appender.append_batch(
        refs[:1], np.array([95]), np.array([1.0])
    )  # old gets one more, then stops
    appender.commit()
    assert head.truncate(150) == 1
    got = [
        (s.labels.get("__name__"), s.timestamps.tolist()) for s in head.querier(0, 1000).select([])
    ]
    assert (got, head.num_series, head.min_time, head.max_time) == ([("new", [200])], 1, 200, 200)
    # Freed slots are reused and the old series can come back with a new ref.
    appender.append(Labels.from_dict({"__name__": "old"}), 300, 5.0)
    appender.commit()
    assert [
        s.timestamps.tolist() for s in head.querier(0, 1000).select([M("__name__", "=", "old")])
    ] == [[300]]


def test_uncommitted_and_rolled_back_samples_are_invisible() -> None:
    head = Head()
    appender = head.appender()
    appender.append(Labels.from_dict({"__name__": "m"}), 1, 1.0)
    assert list(head.querier(0, 10).select([])) == []
    appender.rollback()
    appender.commit()
    assert list(head.querier(0, 10).select([])) == []


def test_series_share_one_object_per_label_pair_taking_the_callers_when_it_can() -> None:
    table = SeriesTable()
    shared = ("job", "node")
    table.add(0, Labels([("a", "1"), shared]))
    table.add(1, Labels([("a", "2"), ("job", "node")]))
    first, second = table.labels_at(0), table.labels_at(1)
    assert (first[1] is shared, second[1] is shared, second[0] is first[0]) == (True, True, False)


def test_series_keep_no_copy_of_a_pair_whose_strings_were_interned_elsewhere() -> None:
    """A scrape's parsed pair holds its own copies of strings interned before: the table
    keeps an interned twin, and nothing of the caller's (at 100k series, 40 MiB of RSS)."""
    name, value = sys.intern("job"), sys.intern("node")
    given = ("".join(["jo", "b"]), "".join(["no", "de"]))
    table = SeriesTable()
    table.add(0, Labels([given]))
    table.add_many(1, [Labels([given, ("x", "1")])])
    stored = table.labels_at(0)[0]
    assert (stored[0] is name, stored[1] is value, table.labels_at(1)[0] is stored) == (
        True,
        True,
        True,
    )
    assert sys.getrefcount(given) == 2  # this frame's name and the call's argument


def test_new_series_of_one_call_are_created_together_in_order() -> None:
    head = Head()
    a, b, c = (Labels.from_dict({"__name__": "m", "x": x}) for x in "abc")
    first = head.refs_for([b, a, b]).tolist()
    second = head.refs_for([a, c, b]).tolist()
    stored = [head.labels_of(ref) for ref in range(3)]
    assert (first, second, head.num_series, stored) == ([0, 1, 0], [1, 2, 0], 3, [b, a, c])
