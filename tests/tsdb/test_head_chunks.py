"""Closed head chunks are encoded: reads, truncation and snapshots give back exactly what a
plain list of samples per series holds, bit for bit."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.model import Labels
from vigil.tsdb import STALE_NAN
from vigil.tsdb.head import Head
from vigil.tsdb.head_state import MAX_TIME, MIN_TIME, HeadOptions

_BITS = [
    0x7FF8000000000ABC,  # NaN with a payload
    struct.unpack("<Q", struct.pack("<d", STALE_NAN))[0],
    0x8000000000000000,  # -0.0
    0x7FF0000000000000,  # +Inf
    0x0000000000000001,  # smallest subnormal
]
values = st.one_of(
    st.floats(allow_nan=False),
    st.integers(-(2**60), 2**60).map(float),
    st.decimals(-1000, 1000, places=3).map(float),
    st.sampled_from(_BITS).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]),
)
# Each commit: (series index, time step, value) triples.
commits = st.lists(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 40), values), max_size=30),
    max_size=12,
)


def _bits(vs: np.ndarray) -> list[int]:
    return [int(b) for b in vs.view(np.uint64)]


@settings(max_examples=150, deadline=None)
@given(
    history=commits,
    chunk_samples=st.integers(1, 9),
    start=st.sampled_from([0, -(2**62), 2**62]),
    cut=st.integers(0, 300),
)
def test_head_matches_a_list_of_samples(
    history: list[list[tuple[int, int, float]]], chunk_samples: int, start: int, cut: int
) -> None:
    head = Head(HeadOptions(chunk_samples=chunk_samples, block_range_ms=2**62, max_future_ms=0))
    labels = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(4)]
    refs = head.refs_for(labels)
    model: dict[int, list[tuple[int, int]]] = {i: [] for i in range(4)}
    clock = [start] * 4
    for commit in history:
        appender = head.appender()
        for i, step, value in commit:
            clock[i] += step
            appender.append_by_ref(int(refs[i]), clock[i], value)
            model[i].append((clock[i], _bits(np.array([value]))[0]))
        appender.commit()

    def dump() -> dict[str, list[tuple[int, int]]]:
        return {
            s.labels.get("i"): list(zip(s.timestamps.tolist(), _bits(s.values), strict=True))
            for s in head.querier(MIN_TIME, MAX_TIME).select([])
        }

    want = {str(i): samples for i, samples in model.items() if samples}
    assert dump() == want
    snapshot = head.snapshot()
    assert len(snapshot.refs) == sum(len(s) for s in model.values())
    cut_ms = start + cut
    head.truncate(cut_ms)
    kept = {i: [(t, b) for t, b in s if t >= cut_ms] for i, s in want.items()}
    assert dump() == {i: s for i, s in kept.items() if s}
    if any(kept.values()):
        assert head.min_time == min(s[0][0] for s in kept.values() if s)


def test_full_chunks_are_encoded_and_open_chunks_stay_small() -> None:
    head = Head(HeadOptions(chunk_samples=120))
    appender = head.appender()
    refs = appender.refs_for([Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(50)])
    for step in range(250):
        appender.append_batch(refs, np.full(50, step * 15_000), np.full(50, float(step)))
        appender.commit()
    assert (len(head._state.closed.records), head._state.open.ts.shape[1], head.num_chunks) == (
        100,
        120,
        150,
    )
    [series] = list(head.querier(0, 10**9).select([]))[:1]
    assert series.timestamps.tolist() == [i * 15_000 for i in range(250)]
    assert series.values.tolist() == [float(i) for i in range(250)]
