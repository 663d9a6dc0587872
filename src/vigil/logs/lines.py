"""Whole-column operations on `Lines` (concatenate, slice, reorder, search) and on per-line
structured metadata, in numpy and bytes calls: no Python step per line of text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from vigil.logs._api import Lines
from vigil.model import Labels

I64 = npt.NDArray[np.int64]
Metadata = tuple[Labels, ...] | None

NO_LABELS = Labels()
_SAMPLE_BYTES = 1 << 16
_ANCHOR_SAMPLE_BYTES = 1 << 12
EMPTY_LINES = Lines(b"", np.zeros(1, dtype=np.int64))


def concat_lines(parts: Sequence[Lines]) -> Lines:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return EMPTY_LINES
    bases = np.cumsum([0] + [len(p.data) for p in parts[:-1]], dtype=np.int64)
    offsets = np.concatenate(
        [p.offsets[:-1] + base for p, base in zip(parts, bases.tolist(), strict=True)]
        + [np.array([bases[-1] + len(parts[-1].data)], dtype=np.int64)]
    )
    return Lines(b"".join(p.data for p in parts), offsets)


def slice_lines(lines: Lines, start: int, stop: int) -> Lines:
    """Lines [start, stop) as a column of their own."""
    if start == 0 and stop == len(lines):
        return lines
    begin, end = int(lines.offsets[start]), int(lines.offsets[stop])
    return Lines(lines.data[begin:end], lines.offsets[start : stop + 1] - begin)


def gather_lines(lines: Lines, indices: I64) -> Lines:
    """The lines at `indices`, in that order, gathered as one fancy index over the bytes."""
    sizes = lines.sizes()[indices]
    offsets = np.zeros(len(indices) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    total = int(offsets[-1])
    if not total:
        return Lines(b"", offsets)
    shift = np.repeat(lines.offsets[indices] - offsets[:-1], sizes)
    raw = np.frombuffer(lines.data, dtype=np.uint8)
    return Lines(raw[np.arange(total, dtype=np.int64) + shift].tobytes(), offsets)


def concat_metadata(parts: Sequence[Metadata], sizes: Sequence[int]) -> Metadata:
    """Metadata of concatenated batches: None when no batch has any."""
    if all(m is None for m in parts):
        return None
    out: list[Labels] = []
    for meta, size in zip(parts, sizes, strict=True):
        out.extend(meta if meta is not None else (NO_LABELS,) * size)
    return tuple(out)


def take_metadata(meta: Metadata, indices: I64) -> Metadata:
    if meta is None:
        return None
    taken = tuple(meta[i] for i in indices.tolist())
    return taken if any(taken) else None


def slice_metadata(meta: Metadata, start: int, stop: int) -> Metadata:
    if meta is None:
        return None
    taken = meta[start:stop]
    return taken if any(taken) else None


def encode_metadata(meta: Sequence[Labels]) -> tuple[I64, bytes]:
    """Pairs per line, and every name and value ended by 0xff (a byte UTF-8 never uses).
    Each distinct label set is encoded once (a column repeats a few sets, such as a level)."""
    counts = np.fromiter(map(len, meta), dtype=np.int64, count=len(meta))
    if not counts.any():
        return counts, b""
    encoded = {
        labels: b"".join(s.encode() + b"\xff" for pair in labels for s in pair)
        for labels in set(meta)
    }
    return counts, b"".join(map(encoded.__getitem__, meta))


def decode_metadata(counts: I64, blob: bytes | memoryview) -> tuple[Labels, ...]:
    """Inverse of `encode_metadata`; ValueError if the blob does not hold what counts say.
    Each line's bytes are cut out with numpy's help and each distinct encoding decoded once:
    a column repeats a few sets, so a line costs a slice and a dict lookup."""
    raw = bytes(blob)
    ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 0xFF)
    total = int(counts.sum())
    if len(ends) != 2 * total or (raw and raw[-1] != 0xFF) or (counts < 0).any():
        raise ValueError(f"metadata holds {len(ends)} strings for {total} pairs")
    if not total:
        return (NO_LABELS,) * len(counts)
    through = 2 * np.cumsum(counts)
    line_ends = np.zeros(len(counts) + 1, dtype=np.int64)
    line_ends[1:][through > 0] = ends[through[through > 0] - 1] + 1
    bounds = line_ends.tolist()
    spans = list(map(raw.__getitem__, map(slice, bounds[:-1], bounds[1:])))
    decoded = {span: _labels_of(span) for span in set(spans)}
    return tuple(map(decoded.__getitem__, spans))


def _labels_of(encoded: bytes) -> Labels:
    """One line's pairs, every name and value ended by 0xff."""
    if not encoded:
        return NO_LABELS
    text = [s.decode() for s in encoded[:-1].split(b"\xff")]
    return Labels(zip(text[0::2], text[1::2], strict=True))


def clip_lines(lines: Lines, max_size: int) -> Lines:
    """Every line cut to at most `max_size` bytes (Loki's `max_line_size_truncate`)."""
    sizes = np.minimum(lines.sizes(), max_size)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    shift = np.repeat(lines.offsets[:-1] - offsets[:-1], sizes)
    raw = np.frombuffer(lines.data, dtype=np.uint8)
    return Lines(raw[np.arange(int(offsets[-1]), dtype=np.int64) + shift].tobytes(), offsets)


def contains(lines: Lines, needle: bytes) -> npt.NDArray[np.bool_]:
    """Which lines contain `needle`: the blob is searched for every occurrence and each is
    placed in its line with one vectorised `searchsorted`; when occurrences turn out to be
    dense (more than one line in eight), each line is tested instead."""
    n, data = len(lines), lines.data
    if not needle:
        return np.ones(n, dtype=bool)
    sample = min(len(data), _SAMPLE_BYTES)
    sample_lines = int(np.searchsorted(lines.offsets, sample))
    if data.count(needle, 0, sample) * 8 > max(sample_lines, 64):
        return _lines_of(lines, _occurrences(data, needle), len(needle))
    find, positions, dense = data.find, [], max(64, n // 8)
    pos = find(needle)
    while pos != -1:
        positions.append(pos)
        if len(positions) > dense:
            return _lines_of(lines, _occurrences(data, needle), len(needle))
        pos = find(needle, pos + 1)
    return _lines_of(lines, np.array(positions, dtype=np.int64), len(needle))


def _occurrences(data: bytes, needle: bytes) -> npt.NDArray[np.int64]:
    """Every start of `needle` in `data`, by numpy: the positions of its rarest byte (judged
    on one count of a sample's bytes), kept where each other byte of the needle follows."""
    raw = np.frombuffer(data, dtype=np.uint8)
    seen = np.bincount(raw[:_ANCHOR_SAMPLE_BYTES], minlength=256)
    anchor = int(np.argmin(seen[np.frombuffer(needle, dtype=np.uint8)]))
    starts = np.flatnonzero(raw == needle[anchor]) - anchor
    starts = starts[(starts >= 0) & (starts + len(needle) <= len(raw))]
    for i, byte in enumerate(needle):
        if i != anchor:
            starts = starts[raw[starts + i] == byte]
    return starts


def _lines_of(lines: Lines, hits: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.bool_]:
    """The mask of lines holding a hit of `size` bytes wholly inside them."""
    mask = np.zeros(len(lines), dtype=bool)
    if len(hits):
        line = np.searchsorted(lines.offsets, hits, side="right") - 1
        inside = hits + size <= lines.offsets[line + 1]
        mask[line[inside]] = True
    return mask
