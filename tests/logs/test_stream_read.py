"""Reading one stream's chunks for a limit query: batches come newest first (backward) or
oldest first, and once the reader refuses a batch the stream is left there: no later batch
is asked about or decoded."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vigil.logs import Lines, SelectHints
from vigil.logs.chunk import Chunk
from vigil.logs.stream_read import batches
from vigil.model import Labels

APP = Labels.from_dict({"job": "app"})
SECOND = 10**9
CHUNKS = [
    Chunk.encode(
        np.arange(k * 10, k * 10 + 5, dtype=np.int64) * SECOND, Lines.of([f"c{k}"] * 5), None
    )
    for k in range(6)
]


@pytest.mark.parametrize(
    ("backward", "refused", "read"),
    [
        (True, lambda mint, maxt: maxt < 30 * SECOND, [5, 4, 3]),
        (False, lambda mint, maxt: mint > 20 * SECOND, [0, 1, 2]),
    ],
    ids=["backward", "forward"],
)
def test_a_stream_is_left_at_the_first_batch_its_reader_refuses(
    backward: bool, refused: Callable[[int, int], bool], read: list[int]
) -> None:
    asked: list[int] = []

    def skip(mint: int, maxt: int) -> bool:
        asked.append(mint // (10 * SECOND))
        return refused(mint, maxt)

    hints = SelectHints(backward=backward, skip=skip)
    got = [batch.lines[0].decode() for batch in batches(APP, CHUNKS, 0, 100 * SECOND, hints)]
    assert (got, asked) == ([f"c{k}" for k in read], [*read, read[-1] + (-1 if backward else 1)])
