"""Reading the head: the samples of a set of series in a time range, gathered from closed
chunks (decoded, cached), open chunks and the out-of-order log, and the head as a Querier.
Callers hold the head's lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np

from vigil.model import Labels, Matcher
from vigil.tsdb._api import SelectHints
from vigil.tsdb.head_state import F64, I64, MIN_TIME, HeadState
from vigil.tsdb.postings import RefArray
from vigil.tsdb.postings import select_refs as select_postings
from vigil.tsdb.series import SeriesBatch, SeriesData, merge_batches, merge_series


def gather(state: HeadState, refs: RefArray, mint: int, maxt: int) -> tuple[I64, I64, F64]:
    """Samples of the given series in [mint, maxt], sorted by (ref, time)."""
    mint = max(mint, state.min_valid_t)
    chosen = np.zeros(len(state.series.labels) + 1, dtype=np.bool_)
    chosen[refs] = True
    parts_r: list[I64] = []
    parts_t: list[I64] = []
    parts_v: list[F64] = []
    n_chunks = len(state.closed.records)
    if n_chunks:
        owner = state.closed.owner[:n_chunks]
        ids = np.flatnonzero(
            chosen[owner]
            & (state.closed.mint[:n_chunks] <= maxt)
            & (state.closed.maxt[:n_chunks] >= mint)
        )
        if len(ids):
            ids = ids[np.argsort(owner[ids], kind="stable")]
            chunks = state.closed.records
            ct, cv, lengths = state.closed.decoded.decode(tuple(chunks[i] for i in ids.tolist()))
            parts_r.append(np.repeat(owner[ids], lengths))
            parts_t.append(ct)
            parts_v.append(cv)
    slot_owner = state.open.owner[: state.open.used]
    slots = np.flatnonzero(chosen[slot_owner])  # free slots have owner -1: the extra False
    lengths = state.open.length[slots]
    slots, lengths = slots[lengths > 0], lengths[lengths > 0]
    overlap = (state.open.ts[slots, 0] <= maxt) & (state.open.ts[slots, lengths - 1] >= mint)
    slots, lengths = slots[overlap], lengths[overlap]
    total = int(lengths.sum())
    rows = np.repeat(slots, lengths)
    columns = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    parts_r.append(np.repeat(slot_owner[slots], lengths))
    parts_t.append(state.open.ts[rows, columns])
    parts_v.append(state.open.vs[rows, columns])
    # A series' closed chunks all precede its open one: a stable sort by ref orders time.
    out_r = np.concatenate(parts_r)
    order = np.argsort(out_r, kind="stable")
    out_r = out_r[order]
    out_t = np.concatenate(parts_t)[order]
    out_v = np.concatenate(parts_v)[order]
    keep = (out_t >= mint) & (out_t <= maxt)
    out_r, out_t, out_v = out_r[keep], out_t[keep], out_v[keep]
    if state.ooo.n:
        o_r = state.ooo.ref[: state.ooo.n]
        o_t = state.ooo.t[: state.ooo.n]
        extra = chosen[o_r] & (o_t >= mint) & (o_t <= maxt)
        if extra.any():
            out_r = np.concatenate([out_r, o_r[extra]])
            out_t = np.concatenate([out_t, o_t[extra]])
            out_v = np.concatenate([out_v, state.ooo.v[: state.ooo.n][extra]])
            order = np.lexsort((out_t, out_r))
            out_r, out_t, out_v = out_r[order], out_t[order], out_v[order]
    return out_r, out_t, out_v


def select_refs(state: HeadState, matchers: Sequence[Matcher], mint: int, maxt: int) -> RefArray:
    """Ascending refs of live series matching all matchers whose samples span [mint, maxt]."""
    n = len(state.series.labels)
    refs = select_postings(
        state.series.postings, matchers, lambda: np.flatnonzero(state.series.alive[:n])
    )
    lo = max(mint, state.min_valid_t)
    keep = (
        (state.series.last_t[refs] != MIN_TIME)
        & (state.series.min_t[refs] <= maxt)
        & (state.series.last_t[refs] >= lo)
    )
    selected: RefArray = refs[keep]
    return selected


def _histograms(state: HeadState, refs: RefArray, mint: int, maxt: int) -> SeriesBatch | None:
    """The histogram samples of `refs` (found with numpy: most series have none)."""
    held = state.histograms.by_ref
    if not held:
        return None
    wanted = np.intersect1d(refs, np.fromiter(held, np.int64, len(held)), assume_unique=True)
    if not len(wanted):
        return None
    return state.histograms.batch(
        state.series.labels, wanted.tolist(), max(mint, state.min_valid_t), maxt
    )


def series_data(state: HeadState, refs: RefArray, mint: int, maxt: int) -> Iterator[SeriesData]:
    """SeriesData for those refs that have samples (floats or histograms) in [mint, maxt],
    in label order."""
    floats = _float_series_data(state, refs, mint, maxt)
    histograms = _histograms(state, refs, mint, maxt)
    if histograms is None:
        return iter(floats)
    starts = histograms.starts.tolist()
    hist_series = [
        SeriesData(
            labels,
            histograms.timestamps[a:z],
            histograms.values[a:z],
            None if histograms.histograms is None else histograms.histograms[a:z],
        )
        for labels, a, z in zip(histograms.labels, starts[:-1], starts[1:], strict=True)
    ]
    return iter(list(merge_series([floats, hist_series])))


def _float_series_data(state: HeadState, refs: RefArray, mint: int, maxt: int) -> list[SeriesData]:
    out_r, out_t, out_v = gather(state, refs, mint, maxt)
    labels = state.series.labels
    if not len(out_r):
        return []
    bounds = np.flatnonzero(out_r[1:] != out_r[:-1]) + 1
    starts = np.concatenate([[0], bounds]).tolist()
    ends = [*bounds.tolist(), len(out_r)]
    owners = out_r[starts].tolist()
    found = []
    for ref, a, b in zip(owners, starts, ends, strict=True):
        series_labels = labels[ref]
        assert series_labels is not None
        found.append(SeriesData(series_labels, out_t[a:b], out_v[a:b]))
    found.sort(key=lambda s: s.labels)
    return found


def series_batch(state: HeadState, refs: RefArray, mint: int, maxt: int) -> SeriesBatch:
    """`series_data` as one SeriesBatch (label order), without an object per series."""
    floats = _float_series_batch(state, refs, mint, maxt)
    histograms = _histograms(state, refs, mint, maxt)
    return floats if histograms is None else merge_batches([floats, histograms])


def _float_series_batch(state: HeadState, refs: RefArray, mint: int, maxt: int) -> SeriesBatch:
    out_r, out_t, out_v = gather(state, refs, mint, maxt)
    if not len(out_r):
        return SeriesBatch.of([])
    bounds = np.flatnonzero(out_r[1:] != out_r[:-1]) + 1
    starts = np.concatenate([[0], bounds, [len(out_r)]]).astype(np.int64)
    labels = [state.series.labels[ref] for ref in out_r[starts[:-1]].tolist()]
    order = sorted(range(len(labels)), key=labels.__getitem__)
    if any(i != at for at, i in enumerate(order)):
        lengths = np.diff(starts)[order]
        firsts = starts[:-1][order]
        take = np.arange(int(lengths.sum())) + np.repeat(
            firsts - (np.cumsum(lengths) - lengths), lengths
        )
        out_t, out_v = out_t[take], out_v[take]
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        labels = [labels[i] for i in order]
    return SeriesBatch(tuple(labels), out_t, out_v, starts)


class HeadQuerier:
    """The head as a Querier over [mint, maxt]; each read holds the head's lock."""

    def __init__(self, state: HeadState, lock: threading.RLock, mint: int, maxt: int) -> None:
        self._state = state
        self._lock = lock
        self.mint = mint
        self.maxt = maxt

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[SeriesData]:
        if hints is not None and hints.series_only:
            empty_t = np.empty(0, dtype=np.int64)
            empty_v = np.empty(0, dtype=np.float64)
            return iter([SeriesData(labels, empty_t, empty_v) for labels in self.series(matchers)])
        with self._lock:
            refs = select_refs(self._state, matchers, self.mint, self.maxt)
            return series_data(self._state, refs, self.mint, self.maxt)

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        if hints is not None and hints.series_only:
            return SeriesBatch.of(list(self.select(matchers, hints)))
        with self._lock:
            refs = select_refs(self._state, matchers, self.mint, self.maxt)
            if not len(refs):  # e.g. history only in blocks: skip gathering nothing
                return SeriesBatch.of([])
            return series_batch(self._state, refs, self.mint, self.maxt)

    def _labels(self, matchers: Sequence[Matcher]) -> list[Labels]:
        with self._lock:
            refs = select_refs(self._state, matchers, self.mint, self.maxt)
            found = [self._state.series.labels[ref] for ref in refs.tolist()]
        return [labels for labels in found if labels is not None]

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return sorted(self._labels(matchers))

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({name for labels in self._labels(matchers) for name in labels.names()})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values = {labels.get(name) for labels in self._labels(matchers)}
        values.discard("")
        return sorted(values)

    def close(self) -> None:
        return None
