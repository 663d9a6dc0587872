"""A body's shape, kept from one scrape so that the next one exposing the same series in
the same order (the usual scrape) is read in a few passes over its bytes: no regex over the
lines and no lookup per series, only its value tokens converted.

The shape is where each line ends, where each sample line's value starts (the bytes of its
series text and separator) and a digest of the body with the value tokens cut out. A body
that has as many lines, whose digest without the tokens at those places is the same and
whose tokens are all sample values is, line for line, the remembered series followed by a
new value: exactly what reading it in full would find. Bodies with timestamps or exemplars
are not remembered.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]

_NEWLINE = ord("\n")
_COMMENT = ord("#")
_VALUE = rb"(?:[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)"
_VALUES = re.compile(rb"(?:" + _VALUE + rb"\n)*")
_NUMERIC = b"0123456789.eE+-\n"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a body's values were: `comment_lines` are the indexes of its `#` lines, every
    other line is a sample whose value starts `series_bytes` after the line's start."""

    lines: int
    comment_lines: I64
    series_bytes: I32
    digest: bytes


def layout_of(buf: U8, value_lengths: I64) -> Layout | None:
    """The layout of a body (ending with a newline) just read in full, given each sample
    line's value token length; None when its lines are not all comments and samples."""
    ends = np.flatnonzero(buf == _NEWLINE)
    starts = _starts(ends)
    comment = (buf[starts] == _COMMENT) & (starts < ends)
    if len(ends) - int(comment.sum()) != len(value_lengths):
        return None
    sample = ~comment
    series_bytes = ends[sample] - starts[sample] - value_lengths
    if len(series_bytes) and (int(series_bytes.min()) < 1 or int(series_bytes.max()) >= 2**31):
        return None
    comment_lines = np.flatnonzero(comment)
    cut = _cut(buf, comment_lines, series_bytes, ends, starts)
    if cut is None:
        return None
    skeleton, _ = cut
    return Layout(len(ends), comment_lines, series_bytes.astype(np.int32), _digest(skeleton))


def values_if_same(buf: U8, layout: Layout) -> tuple[F64, list[bytes]] | None:
    """The values of a body (ending with a newline) shaped as `layout`, and their tokens; None
    when it is shaped otherwise (other series, a timestamp, a token that is no value)."""
    ends = np.flatnonzero(buf == _NEWLINE)
    if len(ends) != layout.lines:
        return None
    cut = _cut(buf, layout.comment_lines, layout.series_bytes, ends, _starts(ends))
    if cut is None:
        return None
    skeleton, tokens = cut
    if _digest(skeleton) != layout.digest:
        return None
    if tokens.translate(None, _NUMERIC) and _VALUES.fullmatch(tokens) is None:
        return None
    words = tokens.split(b"\n")
    words.pop()
    try:
        values = np.fromiter(map(float, words), dtype=np.float64, count=len(words))
    except ValueError:
        return None
    return values, words


def _starts(ends: I64) -> I64:
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return starts


def _cut(
    buf: U8, comment_lines: I64, series_bytes: I64 | I32, ends: I64, starts: I64
) -> tuple[bytes, bytes] | None:
    """The body without its sample lines' value tokens and newlines, and those tokens each
    followed by its newline; None when a line is too short to hold its series."""
    sample = np.ones(len(ends), dtype=np.bool_)
    sample[comment_lines] = False
    value_from = starts[sample] + series_bytes
    value_to = ends[sample] + 1
    if len(value_from) and bool((value_from >= value_to - 1).any()):
        return None
    bounds = np.empty(2 * len(value_from) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(buf)
    bounds[1:-1:2] = value_from
    bounds[2:-1:2] = value_to
    in_value = np.zeros(len(bounds) - 1, dtype=np.bool_)
    in_value[1::2] = True
    mask = np.repeat(in_value, np.diff(bounds))
    return buf[~mask].tobytes(), buf[mask].tobytes()


def _digest(skeleton: bytes) -> bytes:
    return hashlib.sha1(skeleton, usedforsecurity=False).digest()
