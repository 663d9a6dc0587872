"""Metric queries over MemoryLogStore, checked against values the test computes itself from
the raw pushed lines: for each step t the window (t - offset - range, t - offset], then plain
Python statistics over the lines (or their logfmt fields) in it."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from vigil.logs import BucketCounts, Entries, Lines, LogQuerier, MemoryLogStore, SelectHints
from vigil.logs.logql import (
    LogQLEngine,
    LogQLError,
    PipelineError,
    QueryCancelledError,
    QueryTimeoutError,
)
from vigil.model import Labels, Matcher
from vigil.model.clock import ManualClock
from vigil.promql import Matrix, Scalar, Vector

S = 10**9
T0 = 1_700_000_000 * S
START, END, STEP = T0 + 60 * S, T0 + 600 * S, 60 * S

Row = tuple[dict[str, str], int, str]


def _rows() -> list[Row]:
    rows: list[Row] = []
    for i in range(120):  # every 5 s for 10 min
        level = ("info", "info", "warn", "error")[i % 4]
        host = f"h{i % 3}"
        line = f"level={level} latency={(i * 37) % 900}ms size={(i * 13) % 50}KB path=/p{i % 2}"
        rows.append(({"job": "api", "host": host}, T0 + i * 5 * S, line))
    for i in range(20):  # every 30 s, JSON with a bad line every fifth
        line = "oops" if i % 5 == 4 else f'{{"level":"debug","n":{i}}}'
        rows.append(({"job": "worker"}, T0 + i * 30 * S, line))
    return rows


ROWS = _rows()


@pytest.fixture(scope="module")
def engine() -> LogQLEngine:
    store = MemoryLogStore()
    streams: dict[tuple[tuple[str, str], ...], list[tuple[int, str]]] = {}
    for labels, t, line in ROWS:
        streams.setdefault(tuple(sorted(labels.items())), []).append((t, line))
    for key, rows in streams.items():
        store.push(
            [
                Entries(
                    Labels(key),
                    np.array([t for t, _ in rows], dtype=np.int64),
                    Lines.of([line for _, line in rows]),
                )
            ]
        )
    return LogQLEngine(store)


def _fields(line: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", line))


def _ms(text: str) -> float:
    return float(text.removesuffix("ms")) / 1000


def _window(t: int, range_s: int, offset_s: int = 0) -> list[Row]:
    end = t - offset_s * S
    return [r for r in ROWS if end - range_s * S < r[1] <= end]


Want = dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]


def _series(
    group: Callable[[Row], dict[str, str] | None],
    value: Callable[[list[Row]], float | None],
    range_s: int,
    offset_s: int = 0,
) -> Want:
    """For every step, rows of the window grouped by `group`, reduced by `value`."""
    out: Want = {}
    for t in range(START, END + 1, STEP):
        groups: dict[tuple[tuple[str, str], ...], list[Row]] = {}
        for row in _window(t, range_s, offset_s):
            labels = group(row)
            if labels is not None:
                groups.setdefault(tuple(sorted(labels.items())), []).append(row)
        for key, rows in groups.items():
            v = value(rows)
            if v is not None:
                out.setdefault(key, []).append((t // 10**6, v))
    return out


def _api(row: Row) -> dict[str, str] | None:
    return row[0] if row[0]["job"] == "api" else None


def _api_with_fields(*names: str) -> Callable[[Row], dict[str, str] | None]:
    def group(row: Row) -> dict[str, str] | None:
        if row[0]["job"] != "api":
            return None
        fields = _fields(row[2])
        return {**row[0], **{k: fields[k] for k in names}}

    return group


def _by(*names: str) -> Callable[[Row], dict[str, str] | None]:
    def group(row: Row) -> dict[str, str] | None:
        if row[0]["job"] != "api":
            return None
        labels = {**row[0], **_fields(row[2])}
        return {k: labels[k] for k in names if k in labels}

    return group


def _latencies(rows: list[Row]) -> list[float]:
    return [_ms(_fields(r[2])["latency"]) for r in rows]


def _rate_counter(rows: list[Row], t: int) -> float:
    """Prometheus's extrapolated rate, written out (Loki's rate_counter)."""
    points = sorted((r[1] / 1e9, _ms(_fields(r[2])["latency"])) for r in rows)
    if len(points) < 2:
        return math.nan
    increase, previous = 0.0, points[0][1]
    for _, v in points[1:]:
        increase += v if v < previous else v - previous
        previous = v
    return increase


LOGFMT_LABELS = ("level", "path", "size")
CASES: list[tuple[str, Callable[[], Want]]] = [
    ('count_over_time({job="api"}[1m])', lambda: _series(_api, len, 60)),
    ('count_over_time({job="api"}[90s] offset 30s)', lambda: _series(_api, len, 90, 30)),
    (
        'rate({job="api"} |= "error" [2m])',
        lambda: _series(
            lambda r: _api(r) if "error" in r[2] else None, lambda rows: len(rows) / 120, 120
        ),
    ),
    (
        'bytes_over_time({job="api"}[1m])',
        lambda: _series(_api, lambda rows: sum(len(r[2]) for r in rows), 60),
    ),
    (
        'bytes_rate({job="api"}[1m])',
        lambda: _series(_api, lambda rows: sum(len(r[2]) for r in rows) / 60, 60),
    ),
    (
        'sum by (level) (count_over_time({job="api"} | logfmt [1m]))',
        lambda: _series(_by("level"), len, 60),
    ),
    (
        'sum_over_time({job="api"} | logfmt | unwrap duration(latency) [1m])',
        lambda: _series(_api_with_fields(*LOGFMT_LABELS), lambda rows: sum(_latencies(rows)), 60),
    ),
    (
        'avg_over_time({job="api"} | logfmt | unwrap duration(latency) [2m]) by (level)',
        lambda: _series(_by("level"), lambda rows: statistics.fmean(_latencies(rows)), 120),
    ),
    (
        'max_over_time({job="api"} | logfmt | unwrap duration(latency) [2m]) by (host)',
        lambda: _series(_by("host"), lambda rows: max(_latencies(rows)), 120),
    ),
    (
        'min_over_time({job="api"} | logfmt | unwrap bytes(size) [2m]) without (host, level, path, latency)',
        lambda: _series(
            _by("job"),
            lambda rows: min(float(_fields(r[2])["size"][:-2]) * 1000 for r in rows),
            120,
        ),
    ),
    (
        'quantile_over_time(0.9, {job="api"} | logfmt | unwrap duration(latency) [3m]) by (path)',
        lambda: _series(_by("path"), lambda rows: float(np.quantile(_latencies(rows), 0.9)), 180),
    ),
    (
        'stddev_over_time({job="api"} | logfmt | unwrap duration(latency) [3m]) by (path)',
        lambda: _series(_by("path"), lambda rows: statistics.pstdev(_latencies(rows)), 180),
    ),
    (
        'first_over_time({job="api"} | logfmt | unwrap duration(latency) [1m]) by (host)',
        lambda: _series(
            _by("host"), lambda rows: _latencies(sorted(rows, key=lambda r: r[1]))[0], 60
        ),
    ),
    (
        'last_over_time({job="api"} | logfmt | unwrap duration(latency) [1m]) by (host)',
        lambda: _series(
            _by("host"), lambda rows: _latencies(sorted(rows, key=lambda r: r[1]))[-1], 60
        ),
    ),
    (
        'sum by (host) (rate({job="api"} | logfmt | unwrap duration(latency) [1m]))',
        lambda: _series(_by("host"), lambda rows: sum(_latencies(rows)) / 60, 60),
    ),
    (
        'count_over_time({job="worker"} | json | __error__="" [2m])',
        lambda: _series(
            lambda r: (
                {"job": "worker", "level": "debug", "n": "?"}
                if r[0]["job"] == "worker" and r[2] != "oops"
                else None
            ),
            len,
            120,
        ),
    ),
    (
        'sum(count_over_time({job="api"} |= "error" [1m])) / sum(count_over_time({job="api"}[1m]))',
        lambda: _series(
            lambda r: {} if _api(r) else None,
            lambda rows: sum("error" in r[2] for r in rows) / len(rows),
            60,
        ),
    ),
    (
        'topk(1, sum by (host) (count_over_time({job="api"} |= "warn" [2m])))',
        lambda: _topk_hosts(),
    ),
    (
        'sum by (level) (count_over_time({job="api"} | logfmt [1m])) > 4',
        lambda: {
            k: [p for p in v if p[1] > 4]
            for k, v in _series(_by("level"), len, 60).items()
            if any(p[1] > 4 for p in v)
        },
    ),
    (
        'label_replace(sum by (host) (count_over_time({job="api"}[1m])), "machine", "m-$1", "host", "h(.)")',
        lambda: {
            (*key, ("machine", "m-" + dict(key)["host"][1])): points
            for key, points in _series(_by("host"), len, 60).items()
        },
    ),
]


def _topk_hosts() -> Want:
    per_host = _series(lambda r: _by("host")(r) if "warn" in r[2] else None, len, 120)
    out: Want = {}
    for t in range(START, END + 1, STEP):
        at = [
            (points_at[1], key)
            for key, points in per_host.items()
            for points_at in points
            if points_at[0] == t // 10**6
        ]
        if at:
            value, key = max(at, key=lambda x: (x[0], [-ord(c) for c in str(x[1])]))
            out.setdefault(key, []).append((t // 10**6, value))
    return out


def _got(value: object) -> Want:
    assert isinstance(value, Matrix)
    return {
        tuple(s.labels): list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in value.series
    }


def _close(got: Want, want: Want) -> bool:
    if sorted(got) != sorted(want):
        return False
    for key, points in want.items():
        ts = [t for t, _ in points]
        if [t for t, _ in got[key]] != ts:
            return False
        if not np.allclose(
            [v for _, v in got[key]], [v for _, v in points], rtol=1e-9, equal_nan=True
        ):
            return False
    return True


@pytest.mark.parametrize(("query", "want"), CASES, ids=[q for q, _ in CASES])
def test_metric_range_query_matches_values_computed_from_the_raw_lines(
    engine: LogQLEngine, query: str, want: Callable[[], Want]
) -> None:
    got = _got(engine.query(query, START, END, STEP).value)
    expected = want()
    if "worker" in query:
        expected = {tuple((k, v) for k, v in key if k != "n"): pts for key, pts in expected.items()}
        got = _merge_worker_series(got)
    assert _close(got, expected), (got, expected)


def _merge_worker_series(got: Want) -> Want:
    """Each worker line has its own `n`: the test sums them over that label."""
    out: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
    for key, points in got.items():
        merged = out.setdefault(tuple((k, v) for k, v in key if k != "n"), {})
        for t, v in points:
            merged[t] = merged.get(t, 0.0) + v
    return {key: sorted(points.items()) for key, points in out.items()}


def test_rate_counter_is_prometheus_extrapolated_rate(engine: LogQLEngine) -> None:
    got = _got(
        engine.query(
            'rate_counter({job="api", host="h0"} | logfmt latency | unwrap duration(latency) [2m])',
            START,
            END,
            STEP,
        ).value
    )
    assert len(got) == 1
    [points] = got.values()
    for t_ms, value in points:
        rows = [r for r in _window(t_ms * 10**6, 120) if r[0] == {"job": "api", "host": "h0"}]
        first, last = min(r[1] for r in rows) / 1e9, max(r[1] for r in rows) / 1e9
        increase = _rate_counter(rows, t_ms)
        start, end = t_ms / 1000 - 120, t_ms / 1000
        sampled = last - first
        average = sampled / (len(rows) - 1)
        to_start = first - start
        to_end = end - last
        first_value = _ms(_fields(min(rows, key=lambda r: r[1])[2])["latency"])
        if increase > 0 and first_value >= 0:
            to_zero = sampled * (first_value / increase)
            to_start = min(to_start, to_zero)
        limit = average * 1.1
        extended = (
            sampled
            + (to_start if to_start < limit else average / 2)
            + (to_end if to_end < limit else average / 2)
        )
        assert value == pytest.approx(increase * extended / sampled / 120)


def test_absent_over_time_is_one_where_no_line_is_in_the_window(engine: LogQLEngine) -> None:
    got = _got(
        engine.query('absent_over_time({job="worker"} |= "n\\":3," [1m])', START, END, STEP).value
    )
    has = {
        t // 10**6
        for t in range(START, END + 1, STEP)
        if any('"n":3,' in r[2] for r in _window(t, 60))
    }
    want = [(t // 10**6, 1.0) for t in range(START, END + 1, STEP) if t // 10**6 not in has]
    assert got == {(("job", "worker"),): want}


INSTANT = [
    ("vector(1)+vector(1)", Vector, [((), 2.0)]),
    ("1 + 2 * 3", Scalar, [((), 7.0)]),
    ('sum(count_over_time({job="api"}[1m]))', Vector, [((), 11.0)]),
    (
        'sum by (level, detected_level) (count_over_time({job="api"} | logfmt [10m]))',
        Vector,
        [((("level", "error"),), 30.0), ((("level", "info"),), 59.0), ((("level", "warn"),), 30.0)],
    ),
    (
        'sort_desc(sum by (host) (count_over_time({job="api"}[10m])))',
        Vector,
        [((("host", "h0"),), 39.0), ((("host", "h1"),), 40.0), ((("host", "h2"),), 40.0)],
    ),
]


@pytest.mark.parametrize(("query", "kind", "want"), INSTANT, ids=[q for q, _, _ in INSTANT])
def test_instant_metric_query(
    engine: LogQLEngine,
    query: str,
    kind: type,
    want: list[tuple[tuple[tuple[str, str], ...], float]],
) -> None:
    value = engine.query(query, END, END).value
    assert isinstance(value, kind)
    if isinstance(value, Scalar):
        assert [((), value.value)] == want
    else:
        assert isinstance(value, Vector)
        assert sorted((tuple(s.labels), s.value) for s in value.samples) == sorted(want)


def test_a_parser_error_in_a_metric_query_names_it(engine: LogQLEngine) -> None:
    with pytest.raises(PipelineError, match="pipeline error: 'JSONParserErr'"):
        engine.query('count_over_time({job="worker"} | json [10m])', END, END)


def test_a_value_that_is_not_a_duration_fails_unwrap(engine: LogQLEngine) -> None:
    with pytest.raises(PipelineError, match="SampleExtractionErr"):
        engine.query('sum_over_time({job="api"} | logfmt | unwrap duration(path) [1m])', END, END)
    ok = engine.query(
        'sum_over_time({job="api"} | logfmt | unwrap duration(path) | __error__="" [1m])', END, END
    )
    assert ok.value == Vector(())


def test_an_operator_on_incompatible_series_is_a_query_error(engine: LogQLEngine) -> None:
    with pytest.raises(LogQLError, match="many-to-many"):
        engine.query(
            'count_over_time({job="api"}[1m]) / on () count_over_time({job="api"}[1m])', END, END
        )


class _SlowQuerier:
    """A querier that calls `on_batch` before each batch (a minute of the test's clock, or the
    server shutting down)."""

    def __init__(self, inner: LogQuerier, on_batch: Callable[[], None]) -> None:
        self.inner, self.on_batch = inner, on_batch

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[Entries]:
        for entries in self.inner.select(matchers, hints):
            self.on_batch()
            yield entries

    def counts(
        self,
        matchers: Sequence[Matcher],
        edges: npt.NDArray[np.int64],
        by: Sequence[str] | None = None,
    ) -> Iterator[BucketCounts]:
        for counts in self.inner.counts(matchers, edges, by):
            self.on_batch()
            yield counts

    def close(self) -> None:
        self.inner.close()


class _SlowStore:
    def __init__(self, inner: MemoryLogStore, on_batch: Callable[[], None]) -> None:
        self.inner, self.on_batch = inner, on_batch

    def querier(self, mint_ns: int, maxt_ns: int) -> LogQuerier:
        return _SlowQuerier(self.inner.querier(mint_ns, maxt_ns), self.on_batch)  # type: ignore[return-value]


def _three_streams() -> MemoryLogStore:
    store = MemoryLogStore()
    for job in ("a", "b", "c"):
        store.push([Entries(Labels.from_dict({"job": job}), np.array([T0]), Lines.of(["x"]))])
    return store


@pytest.mark.parametrize("query", ['{job=~".+"}', 'count_over_time({job=~".+"}[1m])'])
def test_a_query_past_its_timeout_stops(query: str) -> None:
    clock = ManualClock()
    engine = LogQLEngine(
        _SlowStore(_three_streams(), lambda: clock.advance(60)), timeout_s=90, clock=clock
    )
    with pytest.raises(QueryTimeoutError):
        engine.query(query, T0, T0 + S, 0)


@pytest.mark.parametrize("query", ['{job=~".+"}', 'count_over_time({job=~".+"}[1m])'])
def test_a_cancelled_engine_stops_its_running_query_and_refuses_later_ones(query: str) -> None:
    engine = LogQLEngine(_SlowStore(_three_streams(), lambda: engine.cancel()))
    with pytest.raises(QueryCancelledError, match="server is shutting down"):
        engine.query(query, T0, T0 + S, 0)
    with pytest.raises(QueryCancelledError):
        engine.query('count_over_time({job="a"}[1m])', T0, T0 + S, 0)


def test_absent_over_time_of_an_unwrapped_range_is_one_at_every_step(engine: LogQLEngine) -> None:
    query = 'absent_over_time({job="api", host="h9"} | logfmt | unwrap duration(latency) [1m])'
    got = _got(engine.query(query, START, END, STEP).value)
    steps = [t // 10**6 for t in range(START, END + 1, STEP)]
    assert got == {(("host", "h9"), ("job", "api")): [(t, 1.0) for t in steps]}
