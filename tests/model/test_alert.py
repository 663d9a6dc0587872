"""Alert fingerprints: one label set at a time, and a whole batch side by side."""

from __future__ import annotations

import random

import pytest

from vigil.model.alert import fingerprint, fingerprints
from vigil.model.labels import Labels

VALUES = ["", "x", "é", "中文", "\U0001f600", "\x00", "a" * 70, "\udcff", "\ud800"]


def _labelsets(count: int, seed: int) -> list[Labels]:
    rng = random.Random(seed)
    return [
        Labels(
            sorted(
                {
                    f"n{rng.randrange(6)}": rng.choice(VALUES) for _ in range(rng.randrange(5))
                }.items()
            )
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("count", [3, 2000])
def test_a_batch_hashes_as_each_set_alone(count: int) -> None:
    for seed in range(3):
        labelsets = _labelsets(count, seed)
        assert fingerprints(labelsets) == [fingerprint(labels) for labels in labelsets]
