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
    in_skeleton = _skeleton_mask(buf, comment_lines, series_bytes, ends)
    if in_skeleton is None:
        return None
    digest = _digest(buf[in_skeleton])
    return Layout(len(ends), comment_lines, series_bytes.astype(np.int32), digest)


def values_if_same(buf: U8, layout: Layout) -> F64 | None:
    """The values of a body (ending with a newline) shaped as `layout`; None when it is
    shaped otherwise (other series, a timestamp, a token that is no value, a literal too
    large for float64)."""
    ends = np.flatnonzero(buf == _NEWLINE)
    if len(ends) != layout.lines:
        return None
    in_skeleton = _skeleton_mask(buf, layout.comment_lines, layout.series_bytes, ends)
    if in_skeleton is None or _digest(buf[in_skeleton]) != layout.digest:
        return None
    tokens = buf[np.logical_not(in_skeleton, out=in_skeleton)].tobytes()
    if tokens.translate(None, _NUMERIC) and _VALUES.fullmatch(tokens) is None:
        return None
    try:
        values = np.fromstring(tokens, dtype=np.float64, sep="\n")
    except ValueError:
        return None
    if len(values) != len(ends) - len(layout.comment_lines) or _beyond_float64(values, tokens):
        return None
    return values


def _beyond_float64(values: F64, tokens: bytes) -> bool:
    """Whether a token is a literal too large for float64 (read as an infinity)."""
    infinite = np.isinf(values)
    if not infinite.any():
        return False
    words = tokens.split(b"\n")
    return any(not words[at].lstrip(b"+-").startswith(b"I") for at in np.flatnonzero(infinite))


def _starts(ends: I64) -> I64:
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return starts


def _skeleton_mask(
    buf: U8, comment_lines: I64, series_bytes: I64 | I32, ends: I64
) -> npt.NDArray[np.bool_] | None:
    """Where the body is not a sample line's value token or the newline after it; None when
    a line is too short to hold its series."""
    sample = np.ones(len(ends), dtype=np.bool_)
    sample[comment_lines] = False
    sample_ends = ends[sample]
    token_lengths = sample_ends - _starts(ends)[sample] - series_bytes
    if len(token_lengths) and int(token_lengths.min()) < 1:
        return None
    bounds = np.empty(2 * len(sample_ends) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(buf)
    bounds[1:-1:2] = sample_ends - token_lengths
    bounds[2:-1:2] = sample_ends + 1
    outside = np.zeros(len(bounds) - 1, dtype=np.bool_)
    outside[::2] = True
    return np.repeat(outside, np.diff(bounds))


def _digest(skeleton: U8) -> bytes:
    return hashlib.sha1(skeleton.data, usedforsecurity=False).digest()
