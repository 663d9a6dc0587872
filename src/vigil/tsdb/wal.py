"""The metrics WAL: the TSDB's record types on the generic write-ahead log (`wlog`).

Series records map ref -> labels (refs and label counts as arrays, then every name and value
as UTF-8 ended by a 0xff byte, which UTF-8 never uses, so a whole record decodes in a few C
calls; the older record of one length-prefixed string at a time is still read); sample
records hold a commit's refs and timestamps as differences from the previous entry (a
scrape's refs ascend by one, its timestamps repeat: mostly zero bytes, which the WAL's
compression all but removes) and its values, as little-endian numpy bytes; the older
sample records of plain refs and timestamps are still read. Histogram records hold a
commit's native histogram samples: refs as in sample records, then timestamps and
histograms in `chunkenc.histogram`'s encoding (versioned by its first byte).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram
from vigil.tsdb import wlog
from vigil.tsdb.chunkenc import histogram as histenc
from vigil.tsdb.wlog import ReplayProgress, WALMetrics

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

SERIES_V1 = 1
SAMPLES_V1 = 2
OOO_SAMPLES_V1 = 3
SERIES = 4
SAMPLES = 5
OOO_SAMPLES = 6
HISTOGRAMS = 7
RECORD_TYPES = frozenset(
    (SERIES_V1, SAMPLES_V1, OOO_SAMPLES_V1, SERIES, SAMPLES, OOO_SAMPLES, HISTOGRAMS)
)
OUT_OF_ORDER_TYPES = frozenset((OOO_SAMPLES_V1, OOO_SAMPLES))
SERIES_TYPES = frozenset((SERIES_V1, SERIES))
_COUNT = struct.Struct("<BI")  # record type, entries
_SERIES_HEAD = struct.Struct("<qH")  # ref, label count
_NAME_LEN = struct.Struct("<H")
_VALUE_LEN = struct.Struct("<I")
_CHECKPOINT_SERIES_PER_RECORD = 10_000
_CHECKPOINT_SAMPLES_PER_RECORD = 1_000_000
_CHECKPOINT_HISTOGRAMS_PER_RECORD = 10_000


_SEPARATOR = "\udcff"  # what surrogateescape decodes the 0xff ending each string to


def encode_series(series: Iterable[tuple[int, Labels]]) -> bytes:
    refs: list[int] = []
    sizes: list[int] = []
    strings: list[str] = []
    for ref, labels in series:
        refs.append(ref)
        sizes.append(len(labels))
        for name, value in labels:
            strings.append(name)
            strings.append(value)
    strings.append("")
    "".join(strings).encode("utf-8")  # a lone surrogate (not UTF-8) raises here, not later
    return b"".join(
        (
            _COUNT.pack(SERIES, len(refs)),
            np.array(refs, dtype="<i8").tobytes(),
            np.array(sizes, dtype="<u2").tobytes(),
            _SEPARATOR.join(strings).encode("utf-8", "surrogateescape"),
        )
    )


def decode_series(payload: bytes | memoryview) -> list[tuple[int, Labels]]:
    kind, count = _COUNT.unpack_from(payload, 0)
    if kind == SERIES_V1:
        return _decode_series_v1(payload, count)
    start = _COUNT.size
    if len(payload) < start + 10 * count:
        raise ValueError(f"series record of {count} series has only {len(payload)} bytes")
    refs = np.frombuffer(payload, dtype="<i8", count=count, offset=start)
    if count and int(refs.min()) < 0:
        raise ValueError(f"series record has a negative ref {int(refs.min())}")
    sizes = np.frombuffer(payload, dtype="<u2", count=count, offset=start + 8 * count)
    strings = (
        bytes(payload[start + 10 * count :]).decode("utf-8", "surrogateescape").split(_SEPARATOR)
    )
    total = int(sizes.sum(dtype=np.int64))
    if len(strings) != 2 * total + 1 or strings[-1]:
        raise ValueError(f"series record has {len(strings) - 1} strings for {total} labels")
    try:  # bytes that are not UTF-8 were escaped to lone surrogates, which UTF-8 refuses
        "".join(strings).encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"series record holds a label that is not UTF-8 ({err.reason})") from None
    pairs = list(zip(strings[0:-1:2], strings[1:-1:2], strict=True))
    found: list[tuple[int, Labels]] = []
    end = 0
    for ref, size in zip(refs.tolist(), sizes.tolist(), strict=True):
        begin, end = end, end + size
        found.append((ref, Labels(pairs[begin:end])))
    return found


def _decode_series_v1(payload: bytes | memoryview, count: int) -> list[tuple[int, Labels]]:
    offset = _COUNT.size
    found: list[tuple[int, Labels]] = []
    view = memoryview(payload)
    for _ in range(count):
        ref, n_labels = _SERIES_HEAD.unpack_from(view, offset)
        offset += _SERIES_HEAD.size
        pairs = []
        for _ in range(n_labels):
            (name_len,) = _NAME_LEN.unpack_from(view, offset)
            offset += _NAME_LEN.size
            name = bytes(view[offset : offset + name_len]).decode()
            offset += name_len
            (value_len,) = _VALUE_LEN.unpack_from(view, offset)
            offset += _VALUE_LEN.size
            value = bytes(view[offset : offset + value_len]).decode()
            offset += value_len
            pairs.append((name, value))
        found.append((ref, Labels(pairs)))
    if offset != len(payload):
        raise ValueError(f"series record has {len(payload) - offset} trailing bytes")
    return found


def encode_samples(refs: I64, ts: I64, vs: F64, out_of_order: bool = False) -> bytes:
    kind = OOO_SAMPLES if out_of_order else SAMPLES
    return b"".join(
        (
            _COUNT.pack(kind, len(refs)),
            np.diff(refs.astype("<i8", copy=False), prepend=np.int64(0)).tobytes(),
            np.diff(ts.astype("<i8", copy=False), prepend=np.int64(0)).tobytes(),
            vs.astype("<f8", copy=False).tobytes(),
        )
    )


def decode_samples(payload: bytes | memoryview) -> tuple[I64, I64, F64]:
    kind, count = _COUNT.unpack_from(payload, 0)
    if len(payload) != _COUNT.size + 24 * count:
        raise ValueError(f"sample record of {count} samples has {len(payload)} bytes")
    start = _COUNT.size
    # Views of the payload (vigil runs on little-endian hosts only) where they can be: an
    # uncompressed record's are views of the mapped segment, copied once, into the head.
    refs = np.frombuffer(payload, dtype=np.int64, count=count, offset=start)
    ts = np.frombuffer(payload, dtype=np.int64, count=count, offset=start + 8 * count)
    vs = np.frombuffer(payload, dtype=np.float64, count=count, offset=start + 16 * count)
    if kind in (SAMPLES_V1, OOO_SAMPLES_V1):
        return refs, ts, vs
    # The sums are new arrays; the values are copied too, so that the payload (decompressed)
    # is let go of and a batch of records waiting to be applied holds 16 bytes a sample, not 24.
    return np.cumsum(refs), np.cumsum(ts), vs.copy()


@dataclass(frozen=True, slots=True)
class HistogramSamples:
    """Native histogram samples of many series: sample i is `histograms[i]` of series
    `refs[i]` at `timestamps[i]`."""

    refs: list[int]
    timestamps: list[int]
    histograms: list[FloatHistogram]

    def __len__(self) -> int:
        return len(self.refs)


def encode_histograms(samples: HistogramSamples) -> bytes:
    refs = np.asarray(samples.refs, dtype="<i8")
    return b"".join(
        (
            _COUNT.pack(HISTOGRAMS, len(refs)),
            np.diff(refs, prepend=np.int64(0)).tobytes(),
            histenc.encode(samples.timestamps, samples.histograms),
        )
    )


def decode_histograms(payload: bytes | memoryview) -> HistogramSamples:
    _, count = _COUNT.unpack_from(payload, 0)
    start = _COUNT.size
    if len(payload) < start + 8 * count:
        raise ValueError(f"histogram record of {count} samples has {len(payload)} bytes")
    refs = np.cumsum(np.frombuffer(payload, dtype="<i8", count=count, offset=start))
    timestamps, histograms = histenc.decode(payload[start + 8 * count :])
    if len(timestamps) != count:
        raise ValueError(f"histogram record of {count} refs holds {len(timestamps)} samples")
    return HistogramSamples(refs.tolist(), timestamps, histograms)


def checkpoint_records(
    series: list[tuple[int, Labels]],
    refs: I64,
    ts: I64,
    vs: F64,
    histograms: HistogramSamples | None = None,
) -> Iterator[bytes]:
    """The head's state as records for `WAL.write_checkpoint`: series, then samples, then
    histogram samples; a series holding both kinds gets its samples last, one record per
    run of one kind, so that replay meets them in time order."""
    for start in range(0, len(series), _CHECKPOINT_SERIES_PER_RECORD):
        yield encode_series(series[start : start + _CHECKPOINT_SERIES_PER_RECORD])
    mixed = np.empty(0, dtype=np.int64)
    if histograms:
        mixed = np.intersect1d(np.asarray(histograms.refs, dtype=np.int64), refs)
    plain = ~np.isin(refs, mixed) if len(mixed) else slice(None)
    yield from _sample_records(refs[plain], ts[plain], vs[plain])
    if histograms:
        taken = set(mixed.tolist())
        keep = [at for at, ref in enumerate(histograms.refs) if ref not in taken]
        yield from _histogram_records(histograms, keep)
        for ref in mixed.tolist():
            yield from _mixed_records(ref, refs, ts, vs, histograms)


def _sample_records(refs: I64, ts: I64, vs: F64) -> Iterator[bytes]:
    for start in range(0, len(refs), _CHECKPOINT_SAMPLES_PER_RECORD):
        end = start + _CHECKPOINT_SAMPLES_PER_RECORD
        yield encode_samples(refs[start:end], ts[start:end], vs[start:end])


def _histogram_records(histograms: HistogramSamples, rows: list[int]) -> Iterator[bytes]:
    for start in range(0, len(rows), _CHECKPOINT_HISTOGRAMS_PER_RECORD):
        chosen = rows[start : start + _CHECKPOINT_HISTOGRAMS_PER_RECORD]
        yield encode_histograms(
            HistogramSamples(
                [histograms.refs[at] for at in chosen],
                [histograms.timestamps[at] for at in chosen],
                [histograms.histograms[at] for at in chosen],
            )
        )


def _mixed_records(
    ref: int, refs: I64, ts: I64, vs: F64, histograms: HistogramSamples
) -> Iterator[bytes]:
    """One series' floats and histograms as alternating records, in time order."""
    floats = np.flatnonzero(refs == ref)
    rows = [at for at, owner in enumerate(histograms.refs) if owner == ref]
    f_at = h_at = 0
    while f_at < len(floats) or h_at < len(rows):
        if h_at < len(rows) and (
            f_at == len(floats) or histograms.timestamps[rows[h_at]] < ts[floats[f_at]]
        ):
            end = h_at
            limit = ts[floats[f_at]] if f_at < len(floats) else None
            while end < len(rows) and (limit is None or histograms.timestamps[rows[end]] < limit):
                end += 1
            yield from _histogram_records(histograms, rows[h_at:end])
            h_at = end
        else:
            stop = len(floats)
            if h_at < len(rows):
                stop = f_at + int(
                    np.searchsorted(ts[floats[f_at:]], histograms.timestamps[rows[h_at]])
                )
            run = floats[f_at:stop]
            yield from _sample_records(refs[run], ts[run], vs[run])
            f_at = stop


@dataclass(frozen=True, slots=True)
class ReplayStats:
    checkpoint: int | None = None
    segments: int = 0
    records: int = 0
    series: int = 0
    samples: int = 0
    dropped_tail_bytes: int = 0
    seconds: float = 0.0
    repaired: wlog.RepairReport | None = None


SeriesSink = Callable[[list[tuple[int, Labels]]], None]
SamplesSink = Callable[[I64, I64, F64, bool], None]
HistogramsSink = Callable[[HistogramSamples], None]


def _ignore_histograms(samples: HistogramSamples) -> None:
    return None


def replay(
    wal_dir: Path,
    on_series: SeriesSink,
    on_samples: SamplesSink,
    metrics: WALMetrics | None = None,
    clock: Callable[[], float] = time.perf_counter,
    on_progress: ReplayProgress | None = None,
    repair: bool = False,
    on_histograms: HistogramsSink = _ignore_histograms,
) -> ReplayStats:
    """Feed the latest checkpoint, then every later segment, to the sinks, in write order;
    `repair` as in `wlog.replay_log`."""
    counts = [0, 0]  # series, samples

    def on_record(payload: memoryview) -> None:
        if payload[0] in SERIES_TYPES:
            series = decode_series(payload)
            on_series(series)
            counts[0] += len(series)
        elif payload[0] == HISTOGRAMS:
            samples = decode_histograms(payload)
            on_histograms(samples)
            counts[1] += len(samples)
        else:
            refs, ts, vs = decode_samples(payload)
            on_samples(refs, ts, vs, payload[0] in OUT_OF_ORDER_TYPES)
            counts[1] += len(refs)

    stats = wlog.replay_log(
        wal_dir, RECORD_TYPES, on_record, metrics, clock, on_progress, repair=repair
    )
    return ReplayStats(
        checkpoint=stats.checkpoint,
        segments=stats.segments,
        records=stats.records,
        series=counts[0],
        samples=counts[1],
        dropped_tail_bytes=stats.dropped_tail_bytes,
        seconds=stats.seconds,
        repaired=stats.repaired,
    )


def _check(payload: memoryview) -> None:
    if payload[0] in SERIES_TYPES:
        decode_series(payload)
    elif payload[0] == HISTOGRAMS:
        decode_histograms(payload)
    else:
        decode_samples(payload)


def find_corruption(wal_dir: Path) -> wlog.RepairReport | None:
    """The first unreadable record of the metrics WAL, or None if all is well."""
    return wlog.find_corruption(wal_dir, RECORD_TYPES, _check)


def repair(wal_dir: Path, apply: bool) -> wlog.RepairReport | None:
    """`wlog.repair` for the metrics WAL: truncate at its first unreadable record if `apply`."""
    return wlog.repair(wal_dir, RECORD_TYPES, _check, apply)
