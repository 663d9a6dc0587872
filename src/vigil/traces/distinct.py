"""Each span once: an exporter that retries an export whose answer it lost (a timeout, a
restart) sends the same spans again, and the store keeps both copies; readers that gather
spans from many batches (search, dependencies) drop the later copies of a (trace id, span id),
as Tempo combines a trace's copies into one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from vigil.traces._api import Spans


def distinct(batches: Sequence[Spans]) -> list[Spans]:
    """The batches with only the first copy of each (trace id, span id), in order; batches
    without a repeat are returned as they are, and emptied ones left out."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return []
    span_ids = np.concatenate([b.span_id_words() for b in batches])
    order = np.argsort(span_ids, kind="stable")
    ordered = span_ids[order]
    if not (ordered[1:] == ordered[:-1]).any():  # the common case: one sort of 8-byte words
        return batches
    keep = first_copies(np.concatenate([id_keys(b.trace_ids, b.span_ids) for b in batches]))
    ends = np.cumsum([len(b) for b in batches])
    kept: list[Spans] = []
    for batch, end in zip(batches, ends.tolist(), strict=True):
        part = keep[end - len(batch) : end]
        if part.all():
            kept.append(batch)
        elif part.any():
            kept.append(batch.take(np.flatnonzero(part)))
    return kept


def first_copies(keys: npt.NDArray[np.void]) -> npt.NDArray[np.bool_]:
    """True at the first occurrence of each key."""
    _, first = np.unique(keys, return_index=True)
    keep = np.zeros(len(keys), dtype=bool)
    keep[first] = True
    return keep


def id_keys(trace_ids: bytes, ids: bytes) -> npt.NDArray[np.void]:
    """Each row's trace id and (span or parent) id as one 24-byte value."""
    both = np.concatenate(
        [
            np.frombuffer(trace_ids, dtype=np.uint8).reshape(-1, 16),
            np.frombuffer(ids, dtype=np.uint8).reshape(-1, 8),
        ],
        axis=1,
    )
    return np.ascontiguousarray(both).view("V24").ravel()
