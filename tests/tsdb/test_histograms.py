"""Native histogram samples below PromQL: the shared encoding, the head (validation beside
floats, a series switching kinds, staleness), the WAL (replay, checkpoints, a torn tail),
blocks and compaction, each read back through the Querier's `histograms` column."""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.model import Labels, Matcher
from vigil.model.histogram import CounterResetHint, FloatHistogram, Span
from vigil.promql.testing import parse_histogram
from vigil.tsdb import STALE_NAN, MemoryStorage, SeriesData, is_stale_marker
from vigil.tsdb.block import Block, write_block
from vigil.tsdb.chunkenc import histogram as histenc
from vigil.tsdb.compact import compact
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.head import Head
from vigil.tsdb.head_state import HeadOptions
from vigil.tsdb.wal import HistogramSamples, decode_histograms, encode_histograms

H = 3_600_000
ALL = (-(10**15), 10**15)


def hist(text: str) -> FloatHistogram:
    return parse_histogram(text)


def _same(a: FloatHistogram | None, b: FloatHistogram | None) -> bool:
    """Bit-exact equality (NaN sums included)."""
    if a is None or b is None:
        return a is b
    return histenc.encode([0], [a]) == histenc.encode([0], [b])


ENCODED = [
    ("integer counts", [hist("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}")] * 3),
    (
        "growing counter",
        [
            hist(f"{{{{schema:1 sum:{i * 2.5} count:{3 * i} buckets:[{i} {2 * i}]}}}}")
            for i in range(5)
        ],
    ),
    (
        "layout changes",
        [
            hist("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}"),
            hist("{{schema:2 sum:7 count:6 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 1 1]}}"),
            hist("{{schema:2 sum:7 count:6 offset:-3 n_buckets:[1 2 3]}}"),
        ],
    ),
    ("float counts", [hist("{{schema:0 sum:0.3 count:1.5 buckets:[0.5 1]}}")] * 2),
    (
        "float then integer",
        [hist("{{sum:1 count:1.5 buckets:[1.5]}}"), hist("{{sum:1 count:2 buckets:[2]}}")],
    ),
    ("custom buckets", [hist("{{schema:-53 sum:10 count:3 custom_values:[1 5] buckets:[1 1 1]}}")]),
    (
        "hints, -0.0 and NaN sums",
        [
            FloatHistogram(count=-0.0, sum=math.nan, counter_reset_hint=CounterResetHint.GAUGE),
            FloatHistogram(
                count=2,
                sum=STALE_NAN,
                positive_spans=(Span(-5, 1), Span(3, 1)),
                positive_buckets=(1.0, 1.0),
                counter_reset_hint=CounterResetHint.COUNTER_RESET,
            ),
        ],
    ),
]


@pytest.mark.parametrize(("name", "histograms"), ENCODED, ids=[c[0] for c in ENCODED])
def test_the_encoding_round_trips_bit_exact(name: str, histograms: list[FloatHistogram]) -> None:
    timestamps = [1000 + 15_000 * i + (i % 2) for i in range(len(histograms))]
    got_t, got_h = histenc.decode(histenc.encode(timestamps, histograms))
    assert got_t == timestamps
    assert all(_same(a, b) for a, b in zip(got_h, histograms, strict=True)), got_h


def test_a_damaged_encoding_is_refused_saying_why() -> None:
    data = histenc.encode([0, 1], [hist("{{sum:1 count:1 buckets:[1]}}")] * 2)
    for cut in range(len(data)):
        with pytest.raises(histenc.HistogramFormatError):
            histenc.decode(data[:cut])
    with pytest.raises(histenc.HistogramFormatError, match="version 9"):
        histenc.decode(b"\x09" + data[1:])


def test_wal_records_round_trip() -> None:
    samples = HistogramSamples(
        [3, 1, 3], [10, 20, 30], [h for _, hs in ENCODED[:3] for h in hs][:3]
    )
    got = decode_histograms(encode_histograms(samples))
    assert (got.refs, got.timestamps) == (samples.refs, samples.timestamps)
    assert all(_same(a, b) for a, b in zip(got.histograms, samples.histograms, strict=True))


# ----- the head -----

A = hist("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}")
B = hist("{{schema:0 sum:9 count:6 buckets:[2 3 1]}}")
F = 1.5

# Each case: appends in one commit after a first commit of (100, A), and what the commit
# refuses; then the series' samples. Within one commit a series' histograms are validated
# before its floats, unless they all come after them (see head_append_histograms).
HEAD_CASES = [
    ("later histogram", [(200, B)], {}, [(100, A), (200, B)]),
    ("switch to float", [(200, F)], {}, [(100, A), (200, F)]),
    ("same histogram again is deduplicated", [(100, A)], {}, [(100, A)]),
    ("another histogram at the same time", [(100, B)], {"duplicate": 1}, [(100, A)]),
    ("a float at the histogram's time", [(100, F)], {"duplicate": 1}, [(100, A)]),
    ("an older histogram", [(50, B)], {"out_of_order": 1}, [(100, A)]),
    ("an older float", [(50, F)], {"out_of_order": 1}, [(100, A)]),
    (
        "a float, then a histogram, in one commit",
        [(300, B), (200, F)],
        {},
        [(100, A), (200, F), (300, B)],
    ),
    (
        "a float between histograms of one commit",
        [(200, B), (300, F), (400, B)],
        {"out_of_order": 1},
        [(100, A), (200, B), (400, B)],
    ),
]


def _append(
    appender: object, labels: Labels, samples: list[tuple[int, float | FloatHistogram]]
) -> None:
    for t, value in samples:
        if isinstance(value, FloatHistogram):
            appender.append_histogram(labels, t, value)  # type: ignore[attr-defined]
        else:
            appender.append(labels, t, value)  # type: ignore[attr-defined]


def _samples(data: SeriesData) -> list[tuple[int, float | FloatHistogram]]:
    hs = data.histograms if data.histograms is not None else [None] * len(data.timestamps)
    return [
        (t, v if h is None else h)
        for t, v, h in zip(data.timestamps.tolist(), data.values.tolist(), hs, strict=True)
    ]


@pytest.mark.parametrize(
    ("name", "appends", "refused", "want"), HEAD_CASES, ids=[c[0] for c in HEAD_CASES]
)
def test_the_head_validates_histograms_beside_floats(
    name: str,
    appends: list[tuple[int, float | FloatHistogram]],
    refused: dict[str, int],
    want: list[tuple[int, float | FloatHistogram]],
) -> None:
    head = Head(HeadOptions(max_future_ms=0), clock=lambda: 0.0)
    labels = Labels.from_dict({"__name__": "h"})
    first = head.appender()
    first.append_histogram(labels, 100, A)
    first.commit()
    appender = head.appender()
    _append(appender, labels, appends)
    appender.commit()
    assert dict(appender.refused()) == refused
    [data] = head.querier(*ALL).select([])
    assert _samples(data) == want
    assert head.querier(*ALL).select_batch([]).timestamps.tolist() == [t for t, _ in want]


def test_a_stale_histogram_is_stored_as_the_float_stale_marker() -> None:
    head = Head(HeadOptions(max_future_ms=0), clock=lambda: 0.0)
    labels = Labels.from_dict({"__name__": "h"})
    appender = head.appender()
    appender.append_histogram(labels, 100, A)
    appender.append_histogram(labels, 200, FloatHistogram(sum=STALE_NAN))
    appender.commit()
    [data] = head.querier(*ALL).select([])
    assert is_stale_marker(data.values).tolist() == [False, True]
    assert data.histograms is not None and [h is None for h in data.histograms] == [False, True]


def test_memory_storage_takes_histograms_through_its_appender() -> None:
    storage = MemoryStorage()
    appender = storage.appender()
    labels = Labels.from_dict({"__name__": "h"})
    appender.append_histogram(labels, 100, A)
    appender.append(labels, 200, 2.0)
    appender.commit()
    [data] = storage.queryable(*ALL).select([])
    assert _samples(data) == [(100, A), (200, 2.0)]


# ----- WAL, blocks, compaction -----

OPTIONS = TSDBOptions(block_range_ms=1000, max_series=0, chunk_samples=4, max_future_ms=0)


def _histogram(i: int) -> FloatHistogram:
    return hist(f"{{{{schema:0 sum:{i} count:{i + 3} buckets:[1 2 {i}]}}}}")


def _write(path: Path, upto: int, tick_every: int = 0) -> None:
    """Commits 1..upto: `h` a histogram, `f` a float, `m` switching kind every 3 commits,
    `s` a float and then a histogram 50 ms later in every commit."""
    with TSDB.open(path, OPTIONS, clock=lambda: 0.0, registry=CollectorRegistry()) as db:
        for i in range(1, upto + 1):
            appender = db.appender()
            appender.append_histogram(Labels.from_dict({"__name__": "h"}), i * 100, _histogram(i))
            appender.append(Labels.from_dict({"__name__": "f"}), i * 100, float(i))
            mixed = Labels.from_dict({"__name__": "m"})
            if i // 3 % 2:
                appender.append_histogram(mixed, i * 100, _histogram(i))
            else:
                appender.append(mixed, i * 100, float(i))
            switching = Labels.from_dict({"__name__": "s"})
            appender.append_histogram(switching, i * 100 + 50, _histogram(i))
            appender.append(switching, i * 100, float(i))
            appender.commit()
            assert not appender.refused()
            if tick_every and i % tick_every == 0:
                db.tick()


def _want(upto: int) -> dict[str, list[tuple[int, float | FloatHistogram]]]:
    return {
        "f": [(i * 100, float(i)) for i in range(1, upto + 1)],
        "h": [(i * 100, _histogram(i)) for i in range(1, upto + 1)],
        "m": [(i * 100, _histogram(i) if i // 3 % 2 else float(i)) for i in range(1, upto + 1)],
        "s": [
            sample
            for i in range(1, upto + 1)
            for sample in ((i * 100, float(i)), (i * 100 + 50, _histogram(i)))
        ],
    }


def _read(path: Path) -> dict[str, list[tuple[int, float | FloatHistogram]]]:
    with TSDB.open(path, OPTIONS, clock=lambda: 0.0, registry=CollectorRegistry()) as db:
        querier = db.querier(*ALL)
        found = {s.labels.get("__name__"): _samples(s) for s in querier.select([])}
        batch = querier.select_batch([])
        assert batch.timestamps.tolist() == [t for name in sorted(found) for t, _ in found[name]]
        return found


@pytest.mark.parametrize(
    ("name", "tick_every"), [("WAL only", 0), ("blocks, checkpoints, compaction", 5)]
)
def test_histograms_survive_a_restart(tmp_path: Path, name: str, tick_every: int) -> None:
    _write(tmp_path, 40, tick_every)
    if tick_every:
        assert any((tmp_path / "wal").glob("checkpoint.*"))
        assert len([p for p in tmp_path.iterdir() if len(p.name) == 26]) >= 1
    assert _read(tmp_path) == _want(40)


def test_a_torn_histogram_record_at_the_tail_is_dropped(tmp_path: Path) -> None:
    _write(tmp_path, 6)
    segment = max((tmp_path / "wal").glob("0*"))
    # The last record is the last commit's histograms logged after its floats (`s`'s):
    # torn, the floats and the histograms logged before them stay.
    os.truncate(segment, segment.stat().st_size - 5)
    got = _read(tmp_path)
    want = _want(6)
    assert (got["h"], got["f"], got["m"]) == (want["h"], want["f"], want["m"])
    assert got["s"] == want["s"][:-1]


def _series(name: str, samples: list[tuple[int, float | FloatHistogram]]) -> SeriesData:
    column = np.full(len(samples), None, dtype=object)
    for at, (_, value) in enumerate(samples):
        if isinstance(value, FloatHistogram):
            column[at] = value
    return SeriesData(
        Labels.from_dict({"__name__": name}),
        np.array([t for t, _ in samples], dtype=np.int64),
        np.array([math.nan if isinstance(v, FloatHistogram) else v for _, v in samples]),
        column,
    )


def test_blocks_and_compaction_keep_histograms(tmp_path: Path) -> None:
    early = [(10, A), (20, 2.0), (30, B)]
    late = [(2 * H, B), (2 * H + 10, A)]
    first = Block.open(
        write_block(tmp_path, [_series("h", early), _series("f", [(5, 1.0)])], 0, 2 * H - 1)
    )
    second = Block.open(write_block(tmp_path, [_series("h", late)], 2 * H, 4 * H - 1))
    merged = Block.open(compact(tmp_path, [first, second]))
    try:
        got = {
            s.labels.get("__name__"): _samples(s)
            for s in merged.select([Matcher.of("__name__", "=~", ".+")])
        }
        assert got == {"h": early + late, "f": [(5, 1.0)]}
        [part] = merged.querier(15, 2 * H).select([Matcher.of("__name__", "=", "h")])
        assert _samples(part) == [(20, 2.0), (30, B), (2 * H, B)]
    finally:
        for block in (first, second, merged):
            block.close()


def test_a_float_series_record_is_still_written_as_version_1(tmp_path: Path) -> None:
    import zstandard

    from vigil.tsdb.chunkenc.block_record import encode

    raw = zstandard.ZstdDecompressor().decompress(encode(np.array([1, 2]), np.array([1.0, 2.0])))
    assert struct.unpack_from("<B", raw)[0] == 1
