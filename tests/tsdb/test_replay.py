"""WAL replay: the fast path (a target's records stacked into one block per set of series)
builds the very head that replaying record by record builds, bit for bit, with the same
refusals; a restart gives back the head it stopped with; series records decode or fail
with a clear error."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from vigil.model import Labels
from vigil.tsdb import STALE_NAN
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.head import Head
from vigil.tsdb.head_state import MAX_TIME, MIN_TIME, HeadOptions
from vigil.tsdb.wal import SERIES_V1, decode_series, encode_samples, encode_series
from vigil.tsdb.wlog import frame

LABELS = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(6)]
TARGETS = [(0, 1, 2), (3, 4), (5,)]  # series scraped together: their records repeat one refs array
UNKNOWN = 99
VALUES = [
    0.0,
    -0.0,
    1.5,
    2.25,
    12345.678,
    float("inf"),
    STALE_NAN,
    struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000ABC))[0],
]
REASONS = ("out_of_order", "duplicate", "unknown_series", "series_limit", "out_of_bounds")

Record = tuple[list[int], list[int], list[float]]

scrape = st.tuples(
    st.just("scrape"),
    st.integers(0, len(TARGETS) - 1),
    st.sampled_from([1, 1, 1, 1, 1, 2, 0, -1]),  # how far the target's clock moves
    st.lists(st.sampled_from(VALUES), min_size=3, max_size=3),
)
loose = st.tuples(
    st.just("loose"),
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2, 3, 4, 5, UNKNOWN]),
            st.integers(-3, 3),  # time relative to the newest so far
            st.sampled_from(VALUES),
        ),
        min_size=1,
        max_size=6,
    ),
)


def _records(steps: list[tuple[object, ...]]) -> list[Record]:
    clocks = [100] * len(TARGETS)
    newest = 100
    out: list[Record] = []
    for step in steps:
        if step[0] == "scrape":
            _, target, advance, values = step
            assert isinstance(target, int) and isinstance(advance, int)
            assert isinstance(values, list)
            clocks[target] += advance
            newest = max(newest, clocks[target])
            refs = list(TARGETS[target])
            out.append((refs, [clocks[target]] * len(refs), values[: len(refs)]))
        else:
            entries = step[1]
            assert isinstance(entries, list)
            out.append(
                (
                    [ref for ref, _, _ in entries],
                    [newest + offset for _, offset, _ in entries],
                    [value for _, _, value in entries],
                )
            )
    return out


def _arrays(record: Record) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    refs, ts, vs = record
    return (
        np.array(refs, dtype=np.int64),
        np.array(ts, dtype=np.int64),
        np.array(vs, dtype=np.float64),
    )


def _head(chunk_samples: int, min_valid: int | None) -> tuple[Head, CollectorRegistry]:
    registry = CollectorRegistry()
    head = Head(HeadOptions(chunk_samples=chunk_samples, block_range_ms=2**40), registry)
    if min_valid is not None:
        head.set_min_valid_time(min_valid)
    return head, registry


def _state(head: Head, registry: CollectorRegistry) -> dict[str, object]:
    """Everything a reader or the self-metrics can see of a head."""
    samples = {
        s.labels: list(zip(s.timestamps.tolist(), s.values.view(np.uint64).tolist(), strict=True))
        for s in head.querier(MIN_TIME, MAX_TIME).select([])
    }
    n_chunks = len(head._state.closed.records)
    chunks = sorted(
        zip(
            head._state.closed.owner[:n_chunks].tolist(),
            head._state.closed.mint[:n_chunks].tolist(),
            head._state.closed.maxt[:n_chunks].tolist(),
            strict=True,
        )
    )
    metrics = {
        reason: registry.get_sample_value("vigil_tsdb_rejected_samples_total", {"reason": reason})
        for reason in REASONS
    }
    metrics["appended"] = registry.get_sample_value(
        "prometheus_tsdb_head_samples_appended_total", {"type": "float"}
    )
    metrics["created"] = registry.get_sample_value("prometheus_tsdb_head_series_created_total")
    return {
        "samples": samples,
        "chunks": chunks,
        "num_chunks": head.num_chunks,
        "num_series": head.num_series,
        "max_time": head.max_time,
        "min_time": head.min_time,
        "metrics": metrics,
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.one_of(scrape, scrape, scrape, scrape, scrape, loose), max_size=60),
    chunk_samples=st.integers(1, 7),
    min_valid=st.sampled_from([None, 102, 105]),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    late_series=st.integers(0, 5),
)
def test_stacked_replay_equals_record_by_record(
    steps: list[tuple[object, ...]],
    chunk_samples: int,
    min_valid: int | None,
    cuts: list[int],
    late_series: int,
) -> None:
    records = _records(steps)
    series = list(enumerate(LABELS))
    # Series from `late_series` on are created after the first records (mid-WAL); samples
    # of theirs before then are refused as unknown, on both paths.
    early, late = series[:late_series], series[late_series:]
    split = len(records) // 3

    one_by_one, one_registry = _head(chunk_samples, min_valid)
    for ref, labels in early:
        one_by_one.replay_series(ref, labels)
    for i, record in enumerate(records):
        if i == split:
            for ref, labels in late:
                one_by_one.replay_series(ref, labels)
        one_by_one.replay(*_arrays(record), False)
    if split >= len(records):
        for ref, labels in late:
            one_by_one.replay_series(ref, labels)

    stacked, stacked_registry = _head(chunk_samples, min_valid)
    stacked.replay_series_many(early)
    bounds = sorted({0, split, len(records), *(min(c, len(records)) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        if start == split:
            stacked.replay_series_many(late)
        stacked.replay_in_order([_arrays(r) for r in records[start:end]])
    if split >= len(records):
        stacked.replay_series_many(late)

    assert _state(stacked, stacked_registry) == _state(one_by_one, one_registry)


@pytest.mark.parametrize("n_series", [3, 40])  # few fill levels, then more than 16 of them
def test_series_out_of_step_are_placed_as_one_by_one(n_series: int) -> None:
    """Series i starts with i samples (its chunk of 60 filled to i), then every series gets
    the same 30 records (closing the chunks filled past 30): each fill level is placed on
    its own, or, past 16 levels, sample by sample."""
    records: list[Record] = [([i], [t], [float(t)]) for i in range(n_series) for t in range(i)]
    everyone = list(range(n_series))
    records += [(everyone, [100 + k] * n_series, [k / 4] * n_series) for k in range(30)]
    series = [(i, Labels.from_dict({"i": str(i)})) for i in range(n_series)]
    heads = [_head(60, None) for _ in range(2)]
    for head, _ in heads:
        head.replay_series_many(series)
    for record in records:
        heads[0][0].replay(*_arrays(record), False)
    heads[1][0].replay_in_order([_arrays(r) for r in records])
    assert _state(*heads[1]) == _state(*heads[0])


def test_series_created_twice_or_under_a_taken_ref_are_kept_once() -> None:
    head = Head(HeadOptions())
    a, b = Labels.from_dict({"__name__": "a"}), Labels.from_dict({"__name__": "b"})
    head.replay_series_many([(0, a), (1, a), (0, b), (2, b)])
    assert (head.num_series, head.labels_of(0), head.labels_of(1), head.labels_of(2)) == (
        2,
        a,
        None,
        b,
    )


def _dump(db: TSDB) -> dict[Labels, list[tuple[int, int]]]:
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.view(np.uint64).tolist(), strict=True))
        for s in db.querier(MIN_TIME, MAX_TIME).select([])
    }


def _head_chunks(db: TSDB) -> list[tuple[Labels | None, int, int, bytes]]:
    head = db.head
    n = len(head._state.closed.records)
    return sorted(
        (head.labels_of(int(owner)), int(mint), int(maxt), record)
        for owner, mint, maxt, record in zip(
            head._state.closed.owner[:n],
            head._state.closed.mint[:n],
            head._state.closed.maxt[:n],
            head._state.closed.records,
            strict=True,
        )
    )


@pytest.mark.parametrize("ticks", [(), (70, 120)])
def test_restart_gives_back_the_head_it_stopped_with(
    tmp_path: Path, ticks: tuple[int, ...]
) -> None:
    """Checkpoint + segments (with ticks), chunks closing mid-replay, stale markers,
    out-of-order samples (accepted within the window and refused past it), duplicates, and
    series that appear and disappear along the way. Without a checkpoint the chunks are cut
    where they were; a checkpoint holds samples from the cut on, so it may cut elsewhere."""
    options = TSDBOptions(
        block_range_ms=60_000,
        max_series=0,
        wal_fsync="never",
        wal_segment_size=4096,
        chunk_samples=5,
        out_of_order_time_window_ms=20_000,
    )
    rng = np.random.default_rng(11)
    targets = [
        [Labels.from_dict({"__name__": "up", "job": f"j{t}", "i": str(i)}) for i in range(n)]
        for t, n in enumerate((40, 7, 1))
    ]
    refused = 0
    with TSDB.open(tmp_path, options, registry=CollectorRegistry()) as db:
        for step in range(150):
            now = 1_000 + step * 1_000
            for t, labels in enumerate(targets):
                if t == 1 and 60 <= step < 80:
                    continue  # a target down for a while
                if t == 2 and step == 90:
                    labels = [*labels, Labels.from_dict({"__name__": "new", "i": "late"})]
                appender = db.appender()
                refs = appender.refs_for(labels)
                values = np.round(rng.normal(size=len(refs)) * 100, 2)
                values[rng.random(len(refs)) < 0.05] = STALE_NAN
                appender.append_batch(refs, np.full(len(refs), now), values)
                appender.commit()
            if step % 17 == 5:  # out of order: within the window, then past it
                appender = db.appender()
                appender.append(targets[0][0], now - 500, 7.0)
                appender.append(targets[0][1], now - 50_000, 8.0)
                appender.append(targets[0][2], now, 9.0)  # a different value at a taken time
                appender.commit()
                refused += sum(appender.result.rejected.values())
            if step in ticks:
                db.tick()  # cuts a block and writes a checkpoint
        assert refused > 0
        before = _head_state(db, with_chunks=not ticks)
    with TSDB.open(tmp_path, options, registry=CollectorRegistry()) as db:
        assert (db.replay_stats.checkpoint is not None) == bool(ticks)
        assert db.replay_stats.segments > 1
        after = _head_state(db, with_chunks=not ticks)
    assert after == before


def _head_state(db: TSDB, with_chunks: bool) -> tuple[object, ...]:
    head = db.head
    chunks = _head_chunks(db) if with_chunks else []
    return (_dump(db), chunks, head.num_series, head.min_time, head.max_time, len(db.blocks))


def _v1_series_record(series: list[tuple[int, Labels]]) -> bytes:
    parts = [struct.pack("<BI", SERIES_V1, len(series))]
    for ref, labels in series:
        parts.append(struct.pack("<qH", ref, len(labels)))
        for name, value in labels:
            raw_name, raw_value = name.encode(), value.encode()
            parts += [struct.pack("<H", len(raw_name)), raw_name]
            parts += [struct.pack("<I", len(raw_value)), raw_value]
    return b"".join(parts)


def test_series_records_of_the_older_layout_still_replay(tmp_path: Path) -> None:
    series = [
        (0, Labels.from_dict({"__name__": "up", "job": "ünïcode"})),
        (1, Labels.from_dict({"__name__": "up", "job": "x", "e": ""})),
    ]
    assert decode_series(_v1_series_record(series)) == series
    wal = tmp_path / "wal"
    wal.mkdir()
    samples = encode_samples(np.array([0, 1]), np.array([5, 5]), np.array([1.0, 2.0]))
    (wal / "00000000").write_bytes(frame(_v1_series_record(series)) + frame(samples))
    with TSDB.open(tmp_path, TSDBOptions(max_series=0, wal_fsync="never")) as db:
        assert _dump(db) == {
            series[0][1]: [(5, int(np.float64(1.0).view(np.uint64)))],
            series[1][1]: [(5, int(np.float64(2.0).view(np.uint64)))],
        }


def _packed(series: list[tuple[int, Labels]]) -> bytes:
    return encode_series(series)


GOOD = [(3, Labels.from_dict({"__name__": "up", "job": "x"}))]


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("cut short", _packed(GOOD)[:7], "has only 7 bytes"),
        ("missing string", _packed(GOOD)[:-2], "strings for 2 labels"),
        ("extra string", _packed(GOOD) + b"x\xff", "strings for 2 labels"),
        ("not UTF-8", _packed(GOOD).replace(b"up", b"u\xc3"), "label that is not UTF-8"),
        ("negative ref", _packed([(-4, GOOD[0][1])]), "negative ref -4"),
    ],
)
def test_bad_series_records_are_refused_saying_why(name: str, payload: bytes, message: str) -> None:
    assert decode_series(_packed(GOOD)) == GOOD
    with pytest.raises(ValueError, match=message):
        decode_series(payload)


def test_a_label_that_is_not_unicode_text_is_refused_when_logged() -> None:
    with pytest.raises(UnicodeEncodeError):
        encode_series([(0, Labels.from_dict({"job": "bad \udcff"}))])
