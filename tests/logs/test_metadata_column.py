"""A metadata column read with numpy (label set per line, one name's value per line, the
names) says what decoding a `Labels` per line says, hash collisions included; a chunk's
counted values are the lines counted one by one per combination of the level names."""

from __future__ import annotations

from collections import Counter
from random import Random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.logs import metadata_column
from vigil.logs.chunk_values import MAX_SETS, VALUE_NAMES, ChunkValues
from vigil.logs.metadata_column import MetadataColumn
from vigil.model import Labels

NAMES = ["level", "detected_level", "trace_id", "ü", "lvl"]
VALUES = st.one_of(
    st.sampled_from(["", "info", "warn", "error", "inf", "ïnfo", "a" * 300]),
    st.text(max_size=12),
)
METADATA = st.lists(
    st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=4).map(Labels.from_dict),
    min_size=1,
    max_size=60,
)


def _check(metadata: list[Labels]) -> None:
    column = MetadataColumn.of(metadata)
    codes, sets = column.sets()
    assert [sets[c] for c in codes] == metadata
    assert column.names() == {name for labels in metadata for name in labels.names()}
    for name in NAMES:
        value, values = column.values(name)
        want = [dict(labels).get(name) for labels in metadata]
        assert [values[v] if v >= 0 else None for v in value.tolist()] == want


@settings(max_examples=200, deadline=None)
@given(METADATA)
def test_a_column_read_with_numpy_equals_its_labels(metadata: list[Labels]) -> None:
    _check(metadata)


@settings(max_examples=50, deadline=None)
@given(METADATA)
def test_strings_whose_hashes_collide_are_still_told_apart(
    metadata: list[Labels],
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metadata_column, "_MULTIPLIER", np.uint64(0))  # the last byte is the hash
        _check(metadata)


@settings(max_examples=100, deadline=None)
@given(METADATA)
def test_counted_values_are_the_lines_counted_per_level_combination(
    metadata: list[Labels],
) -> None:
    sizes = np.arange(len(metadata), dtype=np.int64) * 3 + 1
    got = ChunkValues.count(MetadataColumn.of(metadata), sizes)
    assert got is not None
    lines: Counter[Labels] = Counter()
    size: Counter[Labels] = Counter()
    for labels, n in zip(metadata, sizes.tolist(), strict=True):
        key = Labels(pair for pair in labels if pair[0] in VALUE_NAMES)
        lines[key] += 1
        size[key] += n
    assert got.names == {name for labels in metadata for name in labels.names()}
    assert dict(zip(got.sets, got.lines, strict=True)) == dict(lines)
    assert dict(zip(got.sets, got.bytes, strict=True)) == dict(size)


def test_a_chunk_of_too_many_level_values_is_not_counted() -> None:
    metadata = [Labels.from_dict({"level": f"l{i}"}) for i in range(MAX_SETS + 1)]
    sizes = np.ones(len(metadata), dtype=np.int64)
    assert ChunkValues.count(MetadataColumn.of(metadata), sizes) is None
    assert ChunkValues.count(MetadataColumn.of(metadata[:MAX_SETS]), sizes[:MAX_SETS])


@pytest.mark.parametrize(
    ("names", "by", "answers"),
    [
        ({"level"}, None, True),
        ({"level", "detected_level"}, None, True),
        ({"level", "trace_id"}, None, False),
        ({"level", "trace_id"}, ("level",), True),
        ({"level", "trace_id"}, ("level", "job"), True),
        ({"level", "trace_id"}, ("trace_id",), False),
        ({"level", "trace_id"}, (), True),
    ],
)
def test_counted_values_answer_a_grouping_unless_it_names_uncounted_metadata(
    names: set[str], by: tuple[str, ...] | None, answers: bool
) -> None:
    values = ChunkValues(frozenset(names), (Labels(),), (1,), (1,))
    assert values.answers(by) is answers


@settings(max_examples=200, deadline=None)
@given(METADATA, st.randoms(use_true_random=False))
def test_which_of_the_sets_each_line_has_is_its_set_or_no_answer(
    metadata: list[Labels], rng: Random
) -> None:
    sets = sorted(set(metadata))
    rng.shuffle(sets)
    column = MetadataColumn.of(metadata)
    which = column.which(sets)
    if which is not None:
        assert [sets[k] for k in which.tolist()] == metadata


def test_which_tells_levels_apart_by_a_few_bytes() -> None:
    sets = [Labels.from_dict({"level": v}) for v in ("info", "warn", "debug", "error")]
    metadata = [sets[i % 4] for i in range(40)] + [Labels()]
    which = MetadataColumn.of(metadata).which([*sets, Labels()])
    assert which is not None and which.tolist() == [i % 4 for i in range(40)] + [4]
