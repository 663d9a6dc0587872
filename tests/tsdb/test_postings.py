"""MemPostings keeps each label pair's refs ascending whatever order series come and go in,
whether the pair is held by one series (a plain ref) or by many (an array)."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.model import Labels
from vigil.tsdb.postings import MemPostings


def _series(ref: int) -> Labels:
    return Labels.from_dict({"__name__": "m", "shard": str(ref % 2), "id": str(ref)})


def _lists(postings: MemPostings) -> dict[tuple[str, str], list[int]]:
    return {
        (name, value): postings.get(name, value).tolist()
        for name in postings.names()
        for value in postings.values(name)
    }


def _expected(refs: list[int]) -> dict[tuple[str, str], list[int]]:
    want: dict[tuple[str, str], list[int]] = {}
    for ref in sorted(refs):
        for pair in _series(ref):
            want.setdefault(pair, []).append(ref)
    return want


def _one_by_one(refs: list[int]) -> MemPostings:
    postings = MemPostings()
    for ref in refs:
        postings.add(ref, _series(ref))
    return postings


def _after(refs: list[int]) -> MemPostings:
    postings = MemPostings()
    postings.add_after(refs[0], [_series(ref) for ref in refs])
    return postings


def _from_disk(refs: list[int]) -> MemPostings:
    return MemPostings.from_lists(
        (name, value, np.asarray(held, dtype=np.int64))
        for (name, value), held in _expected(refs).items()
    )


@pytest.mark.parametrize("build", [_one_by_one, _after, _from_disk])
def test_postings_after_adding_and_removing(build: object) -> None:
    refs = [0, 1, 2, 3, 4, 5]
    postings = build(refs)  # type: ignore[operator]
    assert _lists(postings) == _expected(refs)
    postings.add(9, _series(9))
    postings.add(7, _series(7))  # below a ref held: inserted in order
    assert _lists(postings) == _expected([*refs, 7, 9])
    postings.remove([(ref, _series(ref)) for ref in (0, 2, 3, 5, 9)])
    assert _lists(postings) == _expected([1, 4, 7])
    assert postings.cardinality("shard") == {"0": 1, "1": 2}
    assert postings.cardinality("id") == {"1": 1, "4": 1, "7": 1}
    assert postings.union("id", ["7", "1", "nope"]).tolist() == [1, 7]
    assert postings.value_counts() == {"__name__": 1, "shard": 2, "id": 3}
