"""Replaying the WAL into the head: series records, then sample records re-applied as the
commits were (nothing logged again), with the usual shape — a target's scrapes repeating one
set of series — stacked and placed a whole block of rows at a time. Callers hold the lock."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vigil.model import Labels
from vigil.model.sorted_set import sorted_set
from vigil.tsdb.chunkenc.head_chunk import ENCODE_ROWS
from vigil.tsdb.head_append import CommitResult, apply, insert_in_order
from vigil.tsdb.head_state import F64, I64, Bools, HeadState

# Distinct open-chunk fill levels in one replay block above which rows are placed one sample
# at a time (vectorised) rather than per fill level.
_MAX_FILL_GROUPS = 16


class _Lockstep:
    """WAL sample records grouped by their refs: within a group every record has the same
    strictly ascending refs, and no ref is in two groups, so stacking a group's records as
    columns gives each series its samples in WAL order."""

    def __init__(self, n_refs: int) -> None:
        self._n_refs = n_refs
        self._taken: Bools = np.zeros(n_refs, dtype=np.bool_)
        self._groups: list[tuple[I64, list[I64], list[F64]]] = []
        self._by_key: dict[tuple[int, int, int], int] = {}

    def add(self, refs: I64, ts: I64, vs: F64) -> bool:
        """Add a record (non-empty); False if it fits no group and cannot start one."""
        key = (len(refs), int(refs[0]), int(refs[-1]))
        at = self._by_key.get(key)
        if at is not None:
            group = self._groups[at]
            if not np.array_equal(group[0], refs):
                return False
            group[1].append(ts)
            group[2].append(vs)
            return True
        if key[1] < 0 or key[2] >= self._n_refs or not bool(np.all(refs[1:] > refs[:-1])):
            return False
        if self._taken[refs].any():
            return False
        self._taken[refs] = True
        self._by_key[key] = len(self._groups)
        self._groups.append((refs, [ts], [vs]))
        return True

    def take(self) -> list[tuple[I64, list[I64], list[F64]]]:
        """The groups so far, leaving none."""
        groups, self._groups = self._groups, []
        for refs, _, _ in groups:
            self._taken[refs] = False
        self._by_key.clear()
        return groups


def replay(state: HeadState, refs: I64, ts: I64, vs: F64, out_of_order: bool) -> CommitResult:
    """Re-apply one WAL record: samples older than the last block are skipped, nothing is logged."""
    return apply(state, refs, ts, vs, replaying=True, out_of_order=out_of_order)


def replay_series(state: HeadState, ref: int, labels: Labels) -> None:
    existing = state.series.by_labels.get(labels)
    if existing is not None or (
        ref < len(state.series.labels) and state.series.labels[ref] is not None
    ):
        return
    state.add_series(ref, labels)
    state.series.logged[ref] = True


def replay_series_many(state: HeadState, series: Sequence[tuple[int, Labels]]) -> None:
    """`replay_series` for a whole WAL record, with the per-series bookkeeping done once."""
    if not series:
        return
    top = max(ref for ref, _ in series)
    labels_of = state.series.labels
    if top >= len(labels_of):
        labels_of.extend([None] * (top + 1 - len(labels_of)))
    state.series.ensure_capacity(top + 1)
    by_labels = state.series.by_labels
    add = state.series.postings.add
    created: list[int] = []
    for ref, labels in series:
        if labels in by_labels or labels_of[ref] is not None:
            continue
        labels = state.series.intern(labels)
        labels_of[ref] = labels
        by_labels[labels] = ref
        add(ref, labels)
        created.append(ref)
    refs = np.array(created, dtype=np.int64)
    state.series.alive[refs] = True
    state.series.logged[refs] = True
    state.series.n_alive += len(created)
    state.metrics.series_created.inc(len(created))
    state.metrics.series.set(state.series.n_alive)


def replay_in_order(state: HeadState, records: Sequence[tuple[I64, I64, F64]]) -> None:
    """Re-apply in-order WAL sample records, in WAL order, exactly as `replay` would one
    after another, but without sorting for the usual shape: records that repeat one set of
    series (a target's scrapes) are stacked into a (series x records) block, placed and
    chunked row by row. A record that fits no block (a ref twice, refs of another block)
    first places the blocks gathered so far, so every series sees its samples in order."""
    blocks = _Lockstep(len(state.series.labels))
    for refs, ts, vs in records:
        if not len(refs) or blocks.add(refs, ts, vs):
            continue
        _replay_lockstep(state, blocks.take())
        if not blocks.add(refs, ts, vs):
            apply(state, refs, ts, vs, replaying=True, out_of_order=False)
    _replay_lockstep(state, blocks.take())


def _replay_lockstep(state: HeadState, groups: list[tuple[I64, list[I64], list[F64]]]) -> None:
    """Groups (disjoint refs) with the same record count share one block. The block is
    built a record per row (plain copies) and handed on transposed, as a view: the one
    transposing copy is then the write into the open chunks or the closed ones."""
    by_width: dict[int, list[tuple[I64, list[I64], list[F64]]]] = {}
    for group in groups:
        by_width.setdefault(len(group[1]), []).append(group)
    for width, members in by_width.items():
        refs = np.concatenate([m[0] for m in members]) if len(members) > 1 else members[0][0]
        ts = np.empty((width, len(refs)), dtype=np.int64)
        vs = np.empty((width, len(refs)), dtype=np.float64)
        start = 0
        for member_refs, member_ts, member_vs in members:
            end = start + len(member_refs)
            for row, (t, v) in enumerate(zip(member_ts, member_vs, strict=True)):
                ts[row, start:end] = t
                vs[row, start:end] = v
            start = end
        _replay_block(state, refs, ts.T, vs.T)


def _replay_block(state: HeadState, refs: I64, ts: I64, vs: F64) -> None:
    """Row i: samples of series refs[i] (refs distinct and known) in WAL order. Rows plainly
    in order are placed row-wise; the others (dead series, older or repeated timestamps,
    samples before the last block) go through `_apply`, which refuses or deduplicates as
    it does for a commit."""
    width = ts.shape[1]
    first = ts[:, 0]
    ok = (
        state.series.alive[refs]
        & (first > state.series.last_t[refs])
        & (first >= state.min_valid_t)
    )
    if width > 1:
        ok &= (ts[:, 1:] > ts[:, :-1]).all(axis=1)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        apply(
            state,
            np.repeat(refs[bad], width),
            ts[bad].reshape(-1),
            vs[bad].reshape(-1),
            replaying=True,
            out_of_order=False,
        )
        good = np.flatnonzero(ok)
        refs, ts, vs = refs[good], ts[good], vs[good]
        if not len(refs):
            return
    open_slot = state.series.open_slot[refs]
    fill = np.zeros(len(refs), dtype=np.int64)
    has_open = open_slot >= 0
    fill[has_open] = state.open.length[open_slot[has_open]]
    fills = fill[:1] if fill.min() == fill.max() else sorted_set(fill)
    if len(fills) > _MAX_FILL_GROUPS:  # series far out of step: the general placement
        insert_in_order(state, np.repeat(refs, width), ts.reshape(-1), vs.reshape(-1))
    elif len(fills) == 1:
        _place_rows(state, int(fills[0]), refs, open_slot, ts, vs)
    else:
        for at in fills.tolist():
            rows = np.flatnonzero(fill == at)
            _place_rows(state, at, refs[rows], open_slot[rows], ts[rows], vs[rows])
    state.series.last_t[refs] = ts[:, -1]
    state.series.last_bits[refs] = vs[:, -1].view(np.uint64)
    state.series.min_t[refs] = np.minimum(state.series.min_t[refs], ts[:, 0])
    state.max_t = max(state.max_t, int(ts[:, -1].max()))
    state.metrics.samples_appended.labels("float").inc(ts.size)
    state.metrics.max_time.set(state.max_t)
    state.metrics.chunks.set(state.num_chunks)


def _place_rows(state: HeadState, fill: int, refs: I64, slots: I64, ts: I64, vs: F64) -> None:
    """Append each row to its series' open chunk (`fill` samples in it already, slot -1
    if none), closing full chunks: the open samples, then the row's, cut every
    chunk_samples."""
    size = state.options.chunk_samples
    rows, width = ts.shape
    closing = (fill + width) // size
    if closing:
        taken = closing * size - fill  # of each row, into closed chunks
        # Built and encoded a few hundred chunks at a time, so they stay in cache.
        step = max(1, ENCODE_ROWS // closing)
        for start in range(0, rows, step):
            end = min(start + step, rows)
            if fill:
                chunk_ts = np.empty((end - start, closing * size), dtype=np.int64)
                chunk_vs = np.empty((end - start, closing * size), dtype=np.float64)
                chunk_ts[:, :fill] = state.open.ts[slots[start:end], :fill]
                chunk_vs[:, :fill] = state.open.vs[slots[start:end], :fill]
                chunk_ts[:, fill:] = ts[start:end, :taken]
                chunk_vs[:, fill:] = vs[start:end, :taken]
            else:
                chunk_ts, chunk_vs = ts[start:end, :taken], vs[start:end, :taken]
            state.closed.add(
                np.repeat(refs[start:end], closing),
                chunk_ts.reshape(-1, size),
                chunk_vs.reshape(-1, size),
            )
        ts, vs = ts[:, taken:], vs[:, taken:]
        fill = 0
    remain = fill + ts.shape[1]
    if remain:
        lacking = slots < 0
        if lacking.any():
            slots = slots.copy()
            ids = state.open.alloc(int(lacking.sum()))
            slots[lacking] = ids
            state.open.owner[ids] = refs[lacking]
            state.series.open_slot[refs[lacking]] = ids
        if remain > state.open.ts.shape[1]:  # replay fills chunks: widen once, not by doubling
            state.open.widen(size)
        state.open.ts[slots, fill:remain] = ts
        state.open.vs[slots, fill:remain] = vs
        state.open.length[slots] = remain
    else:
        state.open.length[slots[slots >= 0]] = 0
