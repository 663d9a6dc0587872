"""Appending native histogram samples to the head, beside a commit's floats.

A commit's histograms are validated first, against each series' last sample (of either
kind) and the time bounds as floats are, and claim their series' last time, so the floats
validated next keep one time order per series; the WAL then gets the histogram record
before the float one (replay re-applies them in that order), and the histograms are
placed once the WAL write succeeded. A series whose histograms in the commit all follow
its floats in it (a switch from floats to histograms) has its histograms claimed after the
floats instead, and logged after them. Out-of-order histogram samples are refused.
"""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass

import numpy as np

from vigil.model.histogram import FloatHistogram
from vigil.tsdb.head_append import (
    DUPLICATE,
    OUT_OF_BOUNDS,
    OUT_OF_ORDER,
    SERIES_LIMIT,
    TOO_FAR_IN_FUTURE,
    UNKNOWN_SERIES,
    CommitResult,
    appendable_max_time,
    appendable_min_time,
)
from vigil.tsdb.head_histograms import HISTOGRAM_BITS
from vigil.tsdb.head_state import I64, MAX_TIME, HeadState
from vigil.tsdb.wal import HistogramSamples


@dataclass(frozen=True, slots=True)
class Claim:
    """What validation accepted, and the series' last (time, bits) before it, to restore
    should the WAL write fail."""

    accepted: HistogramSamples
    deduplicated: int
    rejected: dict[str, int]
    latest: dict[int, int]  # ref -> its newest accepted time
    before: dict[int, tuple[int, int]]


def _same(a: FloatHistogram, b: FloatHistogram) -> bool:
    return a == b or a.equals(b)


def claim(
    state: HeadState, samples: HistogramSamples, replaying: bool, now_ms: int, take: bool = True
) -> Claim:
    """Validate `samples` (in append order within a series) and, if `take`, set each
    accepting series' last time to its newest accepted one (see `take_times`)."""
    rejected: Tally[str] = Tally()
    min_time = state.min_valid_t if replaying else appendable_min_time(state)
    max_time = MAX_TIME if replaying else appendable_max_time(state, now_ms)
    series = state.series
    n_refs = len(series.labels)
    accepted = HistogramSamples([], [], [])
    pending: dict[int, tuple[int, FloatHistogram | None]] = {}
    before: dict[int, tuple[int, int]] = {}
    deduplicated = 0
    order = sorted(range(len(samples)), key=samples.refs.__getitem__)
    for at in order:
        ref, t, h = samples.refs[at], samples.timestamps[at], samples.histograms[at]
        if t > max_time:
            rejected[TOO_FAR_IN_FUTURE] += 1
            continue
        if not (0 <= ref < n_refs and series.alive[ref]):
            if t < min_time:
                rejected[OUT_OF_BOUNDS] += not replaying
            else:
                rejected[SERIES_LIMIT if ref < 0 else UNKNOWN_SERIES] += 1
            continue
        if t < min_time:
            rejected[OUT_OF_BOUNDS] += not replaying
            continue
        last = pending.get(ref)
        if last is None:
            last_t = int(series.last_t[ref])
            is_histogram = int(series.last_bits[ref]) == HISTOGRAM_BITS
            found = state.histograms.last(ref) if is_histogram and t == last_t else None
            last = (last_t, None if found is None else found[1])
        if t > last[0]:
            accepted.refs.append(ref)
            accepted.timestamps.append(t)
            accepted.histograms.append(h)
            pending[ref] = (t, h)
        elif t == last[0] and last[1] is not None and _same(h, last[1]):
            deduplicated += 1
        else:
            rejected[DUPLICATE if t == last[0] else OUT_OF_ORDER] += 1
    latest = {ref: t for ref, (t, _) in pending.items()}
    refused = {k: v for k, v in rejected.items() if v}
    claimed = Claim(accepted, deduplicated, refused, latest, before)
    if take:
        take_times(state, claimed)
    return claimed


def take_times(state: HeadState, claimed: Claim) -> None:
    """Set the claiming series' last times (and remember the ones they replace)."""
    series = state.series
    for ref, t in claimed.latest.items():
        claimed.before[ref] = (int(series.last_t[ref]), int(series.last_bits[ref]))
        series.last_t[ref] = t
        series.last_bits[ref] = HISTOGRAM_BITS


def split_after_floats(
    samples: HistogramSamples, refs: I64, ts: I64
) -> tuple[HistogramSamples, HistogramSamples | None]:
    """The commit's histograms to claim before its floats, and those (None if none) of
    series whose histograms in the commit all come after their floats in it."""
    mixed = np.intersect1d(np.asarray(samples.refs, dtype=np.int64), refs)
    if not len(mixed):
        return samples, None
    rows = np.isin(refs, mixed)
    newest_float = dict.fromkeys(mixed.tolist(), -MAX_TIME)
    for ref, t in zip(refs[rows].tolist(), ts[rows].tolist(), strict=True):
        newest_float[ref] = max(newest_float[ref], t)
    oldest_histogram = dict.fromkeys(newest_float, MAX_TIME)
    for ref, t in zip(samples.refs, samples.timestamps, strict=True):
        if ref in oldest_histogram:
            oldest_histogram[ref] = min(oldest_histogram[ref], t)
    later = {ref for ref, t in oldest_histogram.items() if t > newest_float[ref]}
    if not later:
        return samples, None
    first, after = HistogramSamples([], [], []), HistogramSamples([], [], [])
    for ref, t, h in zip(samples.refs, samples.timestamps, samples.histograms, strict=True):
        part = after if ref in later else first
        part.refs.append(ref)
        part.timestamps.append(t)
        part.histograms.append(h)
    return first, after


def restore(state: HeadState, claimed: Claim) -> None:
    """Undo `claim`'s last times (the WAL write failed: nothing is applied)."""
    for ref, (t, bits) in claimed.before.items():
        state.series.last_t[ref] = t
        state.series.last_bits[ref] = bits


def place(state: HeadState, claimed: Claim) -> CommitResult:
    """Make the accepted samples visible; the claim's counts as a CommitResult."""
    accepted = claimed.accepted
    if len(accepted):
        state.histograms.add(accepted)
        for ref, t in zip(accepted.refs, accepted.timestamps, strict=True):
            if t < state.series.min_t[ref]:
                state.series.min_t[ref] = t
        state.max_t = max(state.max_t, max(accepted.timestamps))
        state.metrics.samples_appended.labels("histogram").inc(len(accepted))
        state.metrics.max_time.set(state.max_t)
        state.metrics.chunks.set(state.num_chunks)
    for reason, count in claimed.rejected.items():
        state.metrics.rejected.labels(reason).inc(count)
    if claimed.rejected.get(OUT_OF_ORDER):
        state.metrics.out_of_order.labels("histogram").inc(claimed.rejected[OUT_OF_ORDER])
    bounds = claimed.rejected.get(OUT_OF_BOUNDS, 0) + claimed.rejected.get(TOO_FAR_IN_FUTURE, 0)
    if bounds:
        state.metrics.out_of_bound.labels("histogram").inc(bounds)
    return CommitResult(len(accepted), claimed.deduplicated, claimed.rejected)


def combined(*results: CommitResult) -> CommitResult:
    rejected: Tally[str] = Tally()
    for result in results:
        rejected.update(result.rejected)
    return CommitResult(
        sum(r.appended for r in results), sum(r.deduplicated for r in results), dict(rejected)
    )
