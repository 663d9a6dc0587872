"""Reading one stream's chunks (head, open or in blocks) over a time range: batches in time
order, chunks whose times overlap (out-of-order writes) merged into one batch, and counts
that only decode timestamps and sizes, never the line bytes."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vigil.logs._api import BucketCounts, Entries, IndexStats, SelectHints, series_labels
from vigil.logs.chunk import I64, slice_entries
from vigil.logs.chunk_values import ChunkValues
from vigil.logs.lines import concat_lines, concat_metadata, gather_lines, take_metadata
from vigil.logs.metadata_column import MetadataColumn
from vigil.model import Labels


class ReadableChunk(Protocol):
    """A chunk as the querier sees it: its index entry, its columns on demand."""

    @property
    def mint(self) -> int: ...

    @property
    def maxt(self) -> int: ...

    @property
    def lines(self) -> int: ...

    @property
    def raw_bytes(self) -> int: ...

    def timestamps(self) -> I64:
        """Ascending."""
        ...

    def sizes(self) -> I64:
        """Line sizes, in the order of `timestamps()`."""
        ...

    @property
    def has_metadata(self) -> bool:
        """False when no line has structured metadata; True when some may."""
        ...

    def entries(self, labels: Labels, needles: Sequence[bytes] = ()) -> Entries | None:
        """None when the line bytes surely lack one of `needles`."""
        ...

    @property
    def values(self) -> ChunkValues | None:
        """Its metadata's values counted, when known without decoding it."""
        ...

    def counted(self) -> tuple[I64, I64, MetadataColumn | None]:
        """Timestamps, line sizes and metadata, in any one order, line bytes not decoded."""
        ...


def sort_entries(parts: Sequence[Entries]) -> Entries:
    """Entries of one stream as one batch sorted by time, equal times in the parts' order."""
    if len(parts) == 1 and _ascending(parts[0].timestamps):
        return parts[0]
    ts = np.concatenate([p.timestamps for p in parts])
    lines = concat_lines([p.lines for p in parts])
    meta = concat_metadata([p.metadata for p in parts], [len(p) for p in parts])
    if _ascending(ts):
        return Entries(parts[0].labels, ts, lines, meta if meta and any(meta) else None)
    order = np.argsort(ts, kind="stable")
    return Entries(
        parts[0].labels, ts[order], gather_lines(lines, order), take_metadata(meta, order)
    )


def _ascending(ts: I64) -> bool:
    return bool(len(ts) < 2 or (ts[1:] >= ts[:-1]).all())


def _overlapping(chunks: Sequence[ReadableChunk], mint: int, maxt: int) -> list[ReadableChunk]:
    return [c for c in chunks if c.mint <= maxt and c.maxt >= mint]


def _groups(chunks: Sequence[ReadableChunk]) -> list[list[ReadableChunk]]:
    """Runs of chunks whose time ranges overlap, ascending; each run in its given order."""
    order = sorted(range(len(chunks)), key=lambda i: chunks[i].mint)
    runs: list[list[int]] = []
    reach = 0
    for i in order:
        if runs and chunks[i].mint <= reach:
            runs[-1].append(i)
            reach = max(reach, chunks[i].maxt)
        else:
            runs.append([i])
            reach = chunks[i].maxt
    return [[chunks[i] for i in sorted(run)] for run in runs]


def batches(
    labels: Labels,
    chunks: Sequence[ReadableChunk],
    mint: int,
    maxt: int,
    hints: SelectHints,
) -> Iterator[Entries]:
    """The stream's entries in [mint, maxt], a run of overlapping chunks per batch, decoded
    as each batch is pulled; newest batch first with `hints.backward`; once `hints.skip`
    refuses a run, it and every run after it are never read; chunks whose lines lack one of
    `hints.needles` are left out once decompressed (metadata never decoded)."""
    runs = _groups(_overlapping(chunks, mint, maxt))
    for run in reversed(runs) if hints.backward else runs:
        if hints.skip is not None and hints.skip(
            max(mint, min(c.mint for c in run)), min(maxt, max(c.maxt for c in run))
        ):
            return
        parts = [chunk.entries(labels, hints.needles) for chunk in run]
        kept = [part for part in parts if part is not None]
        if not kept:
            continue
        found = slice_entries(sort_entries(kept), mint, maxt)
        if found is not None:
            yield found


def _inside(chunk: ReadableChunk, mint: int, maxt: int) -> bool:
    return mint <= chunk.mint and chunk.maxt <= maxt


def has_entries(chunks: Sequence[ReadableChunk], mint: int, maxt: int) -> bool:
    for chunk in _overlapping(chunks, mint, maxt):
        if _inside(chunk, mint, maxt):
            return True
        ts = chunk.timestamps()
        if int(np.searchsorted(ts, maxt, side="right")) > int(np.searchsorted(ts, mint)):
            return True
    return False


@dataclass(slots=True)
class StatsTally:
    streams: int = 0
    chunks: int = 0
    entries: int = 0
    bytes: int = 0

    def add(self, chunks: Sequence[ReadableChunk], mint: int, maxt: int) -> None:
        """Count one stream's chunks' entries in range (boundary chunks by their timestamps)."""
        counted = self.chunks
        for chunk in _overlapping(chunks, mint, maxt):
            if _inside(chunk, mint, maxt):
                lines, size = chunk.lines, chunk.raw_bytes
            else:
                ts = chunk.timestamps()
                start = int(np.searchsorted(ts, mint))
                stop = int(np.searchsorted(ts, maxt, side="right"))
                lines, size = stop - start, int(chunk.sizes()[start:stop].sum())
            if lines > 0:
                self.chunks += 1
                self.entries += lines
                self.bytes += size
        self.streams += self.chunks > counted

    def result(self) -> IndexStats:
        return IndexStats(self.streams, self.chunks, self.entries, self.bytes)


def bucket_counts(
    labels: Labels,
    chunks: Sequence[ReadableChunk],
    edges: I64,
    mint: int,
    maxt: int,
    by: Sequence[str] | None = None,
) -> list[BucketCounts]:
    """One stream's entries in [mint, maxt] per bucket `(edges[i], edges[i+1]]` by series
    (see BucketCounts; only the labels in `by` when given). A chunk inside one bucket counts
    from its index entry when it has no metadata, or when its counted values tell the series
    asked for; any other has its timestamps, sizes and metadata decoded, never its lines."""
    n = len(edges) - 1
    bounds: list[int] = edges.tolist()
    found: dict[Labels, tuple[I64, I64]] = {}

    def into(key: Labels) -> tuple[I64, I64]:
        counts = found.get(key)
        if counts is None:
            counts = found[key] = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        return counts

    plain = series_labels(labels, Labels(), by)
    known: dict[tuple[Labels, ...], list[Labels]] = {}  # a chunk's value sets: their series
    cells: dict[Labels, tuple[list[int], list[int], list[int]]] = {}  # bucket, lines, bytes

    def count(key: Labels, at: int, lines: int, size: int) -> None:
        found = cells.get(key)
        if found is None:
            found = cells[key] = [], [], []
        found[0].append(at)
        found[1].append(lines)
        found[2].append(size)

    for chunk in _overlapping(chunks, mint, maxt):
        at = bisect_left(bounds, chunk.mint) - 1
        if 0 <= at < n and chunk.maxt <= bounds[at + 1] and _inside(chunk, mint, maxt):
            if not chunk.has_metadata:
                count(plain, at, chunk.lines, chunk.raw_bytes)
                continue
            values = chunk.values
            if values is not None and values.answers(by):
                series = known.get(values.sets)
                if series is None:
                    series = known[values.sets] = values.series(labels, by)
                for key, lines, size in zip(series, values.lines, values.bytes, strict=True):
                    count(key, at, lines, size)
                continue
        first, last = max(at, 0), min(bisect_left(bounds, chunk.maxt), n)
        if first >= last:
            continue
        ts, sizes, metadata = chunk.counted()
        bucket = np.searchsorted(edges[first : last + 1], ts, side="left") - 1
        keep = (ts >= mint) & (ts <= maxt) & (bucket >= 0) & (bucket < last - first)
        if metadata is None:
            _add(into(plain), bucket[keep], sizes[keep], first, last)
            continue
        values = chunk.values
        which = metadata.which(values.sets) if values is not None and values.answers(None) else None
        if values is not None and which is not None:
            keys = known.get(values.sets) or known.setdefault(
                values.sets, values.series(labels, by)
            )
            code = which
        else:
            code, keys = _line_series(labels, metadata, by)
        code, bucket, sizes = code[keep], bucket[keep], sizes[keep]
        width = last - first
        cell = code * width + bucket
        entries = np.bincount(cell, minlength=len(keys) * width).reshape(len(keys), width)
        weights = np.bincount(cell, weights=sizes, minlength=len(keys) * width)
        total = weights.astype(np.int64).reshape(len(keys), width)
        for k, key in enumerate(keys):
            if entries[k].any():
                counts = into(key)
                counts[0][first:last] += entries[k]
                counts[1][first:last] += total[k]
    for key, (buckets, lines_in, bytes_in) in cells.items():
        into_entries, into_bytes = into(key)
        into_entries += np.bincount(buckets, weights=lines_in, minlength=n).astype(np.int64)
        into_bytes += np.bincount(buckets, weights=bytes_in, minlength=n).astype(np.int64)
    return [BucketCounts(key, entries, size) for key, (entries, size) in found.items()]


def _line_series(
    labels: Labels, metadata: MetadataColumn, by: Sequence[str] | None
) -> tuple[I64, list[Labels]]:
    """Per line (of a stream with `labels`) the position of its series in the list."""
    if by is None:
        code, sets = metadata.sets()
        keys = [series_labels(labels, s) for s in sets]
    elif len(set(by)) == 1:
        (name,) = set(by)
        value, values = metadata.values(name)
        code = value + 1
        fallback = series_labels(labels, Labels(), by)
        keys = [fallback, *(series_labels(labels, Labels([(name, v)]), by) for v in values)]
    else:
        code = np.zeros(len(metadata), dtype=np.int64)
        names = sorted(set(by))
        found = []
        for name in names:
            value, values = metadata.values(name)
            _, code = np.unique(code * (len(values) + 1) + value + 1, return_inverse=True)
            found.append((value, values))
        _, first, code = np.unique(code, return_index=True, return_inverse=True)
        keys = [
            series_labels(
                labels,
                Labels(
                    (name, values[value[row]])
                    for name, (value, values) in zip(names, found, strict=True)
                    if value[row] >= 0
                ),
                by,
            )
            for row in first.tolist()
        ]
    distinct: dict[Labels, int] = {}
    remap = np.array([distinct.setdefault(key, len(distinct)) for key in keys], dtype=np.int64)
    return remap[code.reshape(-1)], list(distinct)


def _add(into: tuple[I64, I64], bucket: I64, sizes: I64, first: int, last: int) -> None:
    """Entries in buckets `first + bucket` (all before `last`) and their sizes."""
    if len(bucket):
        into[0][first:last] += np.bincount(bucket, minlength=last - first)
        weights = np.bincount(bucket, weights=sizes, minlength=last - first)
        into[1][first:last] += weights.astype(np.int64)
