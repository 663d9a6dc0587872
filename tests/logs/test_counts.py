"""Metric queries that count entries or their bytes equal a count of the pushed lines made
here line by line, on streams with and without structured metadata, in blocks and in the
head: without stages (the logs-volume query, answered from the chunk index where a chunk
falls in one window) and with line and label filters (labels from metadata)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.logs.pushes import APP, APP_ERR, DB, T0
from vigil.logs import Entries, Lines
from vigil.logs.head import HOUR_NS, HeadOptions
from vigil.logs.logql import LogQLEngine
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels
from vigil.promql import Matrix, Vector
from vigil.tsdb import CorruptDataError

MINUTE = 60 * 10**9
SPAN = 10 * MINUTE
METADATA = [
    {},
    {"detected_level": "info"},
    {"detected_level": "warn", "trace_id": "t1"},
    {"level": "override"},
    {"detected_level": ""},
]

Row = tuple[Labels, int, bytes, dict[str, str]]


def _rows(seed: int = 3) -> list[Row]:
    """Lines over SPAN: DB's without metadata (their chunks counted from the index), the
    app's with some."""
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    for i in range(900):
        stream = (APP, APP_ERR, DB)[int(rng.integers(3))]
        meta = {} if stream == DB else METADATA[int(rng.integers(len(METADATA)))]
        line = f"line {i} " + "x" * int(rng.integers(0, 30))
        rows.append((stream, T0 + int(rng.integers(0, SPAN)), line.encode(), meta))
    return sorted(rows, key=lambda r: r[1])


def _push(store: LogStore, rows: list[Row]) -> None:
    for start in range(0, len(rows), 30):
        batch: dict[Labels, list[Row]] = {}
        for row in rows[start : start + 30]:
            batch.setdefault(row[0], []).append(row)
        result = store.push(
            [
                Entries(
                    labels,
                    np.array([r[1] for r in part], dtype=np.int64),
                    Lines.of([r[2] for r in part]),
                    tuple(Labels.from_dict(r[3]) for r in part),
                )
                for labels, part in batch.items()
            ]
        )
        assert not result.discarded


def _series(row: Row) -> dict[str, str]:
    merged = {**row[0].to_dict(), **row[3]}
    return {k: v for k, v in merged.items() if v}


def _brute(
    rows: list[Row],
    op: str,
    range_ns: int,
    offset_ns: int,
    step_ns: int,
    by: list[str] | None,
    kept: Callable[[Row], bool],
) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    """The query's matrix counted line by line."""
    found: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
    for t in range(T0, T0 + SPAN + 1, step_ns):
        values: dict[tuple[tuple[str, str], ...], float] = {}
        for row in rows:
            if t - offset_ns - range_ns < row[1] <= t - offset_ns and kept(row):
                labels = _series(row)
                if by is not None:
                    labels = {k: v for k, v in labels.items() if k in by}
                key = tuple(sorted(labels.items()))
                add = len(row[2]) if op.startswith("bytes") else 1
                values[key] = values.get(key, 0) + add
        for key, value in values.items():
            if op in ("rate", "bytes_rate"):
                value /= range_ns / 1e9
            found.setdefault(key, []).append((t // 10**6, value))
    return found


def _every(row: Row) -> bool:
    return True


CASES = [
    ("count_over_time", "1m", 0, MINUTE, None, "", _every),
    ("count_over_time", "2m", 0, 30 * 10**9, ["level"], "", _every),
    ("count_over_time", "1m", MINUTE, MINUTE, ["detected_level"], "", _every),
    ("bytes_over_time", "30s", 0, MINUTE, None, "", _every),
    ("rate", "90s", 0, 20 * 10**9, ["job"], "", _every),
    ("bytes_rate", "1m", 0, MINUTE, ["level", "detected_level"], "", _every),
    # with stages: lines read, labels from structured metadata once per distinct set
    (
        "count_over_time",
        "1m",
        0,
        MINUTE,
        ["detected_level"],
        ' | detected_level="warn"',
        lambda row: _series(row).get("detected_level") == "warn",
    ),
    (
        "count_over_time",
        "2m",
        0,
        MINUTE,
        None,
        ' |= "line 1" | level!="override"',
        lambda row: b"line 1" in row[2] and _series(row).get("level") != "override",
    ),
    ("bytes_over_time", "1m", 0, MINUTE, ["trace_id"], ' != "x"', lambda r: b"x" not in r[2]),
]


@pytest.mark.parametrize("where", ["head", "blocks and head"])
@pytest.mark.parametrize(("op", "window", "offset_ns", "step_ns", "by", "stages", "kept"), CASES)
def test_a_count_query_equals_the_lines_counted_one_by_one(
    tmp_path: Path,
    where: str,
    op: str,
    window: str,
    offset_ns: int,
    step_ns: int,
    by: list[str] | None,
    stages: str,
    kept: Callable[[Row], bool],
) -> None:
    rows = _rows()
    now = [(T0 + SPAN) / 1e9]
    head = HeadOptions(chunk_target_bytes=200, chunk_max_span_ns=20 * 10**9)
    options = LogStoreOptions(head=head, block_range_ns=MINUTE, retention_ns=0)
    with LogStore.open(tmp_path, options, clock=lambda: now[0]) as store:
        _push(store, rows)
        if where != "head":
            now[0] = (T0 + SPAN // 2 + HOUR_NS) / 1e9
            assert store.tick().written
        inner = f'{op}({{job=~".+"}}{stages} [{window}]{f" offset {offset_ns // MINUTE}m" if offset_ns else ""})'
        query = inner if by is None else f"sum by ({', '.join(by)}) ({inner})"
        result = LogQLEngine(store).query(query, T0, T0 + SPAN, step_ns)
    assert isinstance(result.value, Matrix)
    got = {
        tuple(s.labels): list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in result.value.series
    }
    range_ns = {"1m": MINUTE, "2m": 2 * MINUTE, "30s": MINUTE // 2, "90s": 3 * MINUTE // 2}
    want = _brute(rows, op, range_ns[window], offset_ns, step_ns, by, kept)
    assert {k: [t for t, _ in v] for k, v in got.items()} == {
        k: [t for t, _ in v] for k, v in want.items()
    }
    for key, points in want.items():
        assert [v for _, v in got[key]] == pytest.approx([v for _, v in points])


def _a_block_with_a_corrupt_chunk(tmp_path: Path, metadata: tuple[Labels, ...]) -> LogStoreOptions:
    """40 lines of DB, one every second from T0 + 1 s (with `metadata`, one per line, if any),
    cut into one block of four 10 s chunks whose chunk file's last byte is then flipped."""
    options = LogStoreOptions(
        head=HeadOptions(chunk_max_span_ns=10 * 10**9), block_range_ns=MINUTE, retention_ns=0
    )
    ts = T0 + np.arange(1, 41, dtype=np.int64) * 10**9
    with LogStore.open(tmp_path, options, clock=lambda: (T0 + HOUR_NS + MINUTE) / 1e9) as store:
        for part in np.split(np.arange(40), 4):
            lines = Lines.of([f"l{i}" for i in part.tolist()])
            meta = tuple(metadata[i] for i in part) if metadata else None
            store.push([Entries(DB, ts[part], lines, meta)])
        (block,) = store.tick().written
    data = block / "chunks" / "000001"
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF
    data.write_bytes(bytes(raw))
    return options


def test_chunks_without_metadata_are_counted_without_reading_them(tmp_path: Path) -> None:
    """A corrupted chunk that lies inside one window is still counted from the index (a query
    that reads it fails, naming it), so the count never decoded it."""
    options = _a_block_with_a_corrupt_chunk(tmp_path, ())
    with LogStore.open(tmp_path, options, clock=lambda: (T0 + HOUR_NS + MINUTE) / 1e9) as store:
        engine = LogQLEngine(store)
        result = engine.query('count_over_time({job="db"}[1m])', T0 + MINUTE, T0 + MINUTE, 0)
        assert isinstance(result.value, Vector)
        assert [s.value for s in result.value.samples] == [40.0]
        with pytest.raises(CorruptDataError, match="000001"):
            engine.query('count_over_time({job="db"} |= "l" [1m])', T0 + MINUTE, T0 + MINUTE, 0)


LEVELED = [
    {"level": "info"},
    {"level": "warn", "detected_level": "warn"},
    {"detected_level": "error"},
    {"level": ""},
    {"level": "info", "trace_id": "t1"},
    {},
]
GROUPINGS = [
    "sum by (level)",
    "sum by (level, detected_level)",
    "sum by (detected_level, job)",
    "sum",
    "sum by (trace_id)",
    "sum by (level) (sum by (level, job)",
]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    metadata=st.lists(st.sampled_from(range(len(LEVELED))), min_size=1, max_size=4),
    grouping=st.sampled_from(GROUPINGS),
    op=st.sampled_from(["count_over_time", "bytes_over_time"]),
    window_s=st.sampled_from([20, 60, 150]),
    step_s=st.sampled_from([30, 60, 90]),
    start_s=st.integers(0, SPAN // 10**9),
    length_s=st.integers(0, SPAN // 10**9),
    target=st.sampled_from([200, 600, 4000]),
)
def test_a_grouped_count_answered_from_counted_values_equals_the_lines_read(
    seed: int,
    metadata: list[int],
    grouping: str,
    op: str,
    window_s: int,
    step_s: int,
    start_s: int,
    length_s: int,
    target: int,
) -> None:
    """`sum by (…) (count_over_time({…}[r]))` (counted from chunk values where a chunk lies in
    one window) equals the same query with `|= ""`, which reads every line: chunks in blocks
    and in the head, partly inside the range, with the level as metadata or a stream label."""
    rng = np.random.default_rng(seed)
    rows = [
        (
            stream,
            t,
            line,
            LEVELED[metadata[int(rng.integers(len(metadata)))]] if stream != DB else {},
        )
        for stream, t, line, _ in _rows(seed)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        now = [(T0 + SPAN) / 1e9]
        head = HeadOptions(chunk_target_bytes=target, chunk_max_span_ns=40 * 10**9)
        options = LogStoreOptions(head=head, block_range_ns=MINUTE, retention_ns=0)
        with LogStore.open(Path(tmp), options, clock=lambda: now[0]) as store:
            _push(store, rows)
            now[0] = (T0 + SPAN // 2 + HOUR_NS) / 1e9
            store.tick()
            engine = LogQLEngine(store)
            start = T0 + start_s * 10**9
            end = min(start + length_s * 10**9, T0 + SPAN)

            def query(stages: str) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
                inner = f'{op}({{job=~".+"}}{stages} [{window_s}s])'
                closing = ")" * (grouping.count("(") - grouping.count(")") + 1)
                result = engine.query(f"{grouping} ({inner}{closing}", start, end, step_s * 10**9)
                assert isinstance(result.value, Matrix)
                return {
                    tuple(s.labels): list(
                        zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
                    )
                    for s in result.value.series
                }

            assert query("") == query(' |= ""')


def test_chunks_with_levels_in_metadata_are_counted_from_their_values(tmp_path: Path) -> None:
    """A corrupted chunk whose lines carry their level as metadata, inside one window: the
    volume by level still counts it (from the index), a line filter fails naming it."""
    levels = tuple(Labels.from_dict({"level": ("info", "warn")[i % 2]}) for i in range(40))
    options = _a_block_with_a_corrupt_chunk(tmp_path, levels)
    with LogStore.open(tmp_path, options, clock=lambda: (T0 + HOUR_NS + MINUTE) / 1e9) as store:
        engine = LogQLEngine(store)
        query = 'sum by (level) (count_over_time({job="db"}%s[1m]))'
        result = engine.query(query % "", T0 + MINUTE, T0 + MINUTE, 0)
        assert isinstance(result.value, Vector)
        assert sorted((s.labels.get("level"), s.value) for s in result.value.samples) == [
            ("info", 20.0),
            ("warn", 20.0),
        ]
        with pytest.raises(CorruptDataError, match="000001"):
            engine.query(query % ' |= "l"', T0 + MINUTE, T0 + MINUTE, 0)
