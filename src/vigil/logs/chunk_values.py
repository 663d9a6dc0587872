"""What a chunk's lines carry in structured metadata, counted once when the chunk is encoded
and kept beside it (in the head, in a block's index), so that the logs volume, `sum by
(level) (count_over_time({…}[1m]))`, counts a chunk that lies in one window without
decoding its lines or their metadata, also when the level is metadata, not a stream label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vigil.logs._api import series_labels
from vigil.logs.metadata_column import I64, MetadataColumn
from vigil.model import Labels

VALUE_NAMES = ("detected_level", "level")
"""The metadata names counted per value: the ones a logs volume groups by (Grafana asks
`sum by (level, detected_level)`); a handful of values each."""
MAX_SETS = 64
"""More combinations of their values than this in one chunk: the chunk is not counted."""


@dataclass(frozen=True, slots=True)
class ChunkValues:
    """`names`: every metadata name some line of the chunk has; per distinct combination of
    the VALUE_NAMES a line has in its metadata (`sets[i]`, a name present with an empty value
    kept as such), how many lines have it and their bytes. Every line is in one set."""

    names: frozenset[str]
    sets: tuple[Labels, ...]
    lines: tuple[int, ...]
    bytes: tuple[int, ...]

    @classmethod
    def count(cls, column: MetadataColumn, sizes: I64) -> ChunkValues | None:
        """The values of a chunk's metadata `column`, `sizes` its lines' sizes in the same
        order; None past MAX_SETS combinations."""
        codes = np.zeros(len(column), dtype=np.int64)
        found: list[tuple[str, I64, list[str]]] = []
        for name in VALUE_NAMES:
            value, values = column.values(name)
            codes = codes * (len(values) + 1) + value + 1
            found.append((name, value, values))
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        if len(first) > MAX_SETS:
            return None
        inverse = inverse.reshape(-1)
        sets = tuple(
            Labels((name, values[value[row]]) for name, value, values in found if value[row] >= 0)
            for row in first.tolist()
        )
        lines = np.bincount(inverse, minlength=len(first))
        size = np.bincount(inverse, weights=sizes, minlength=len(first))
        return cls(
            column.names(), sets, tuple(lines.tolist()), tuple(int(s) for s in size.tolist())
        )

    def answers(self, by: Sequence[str] | None) -> bool:
        """Whether these counts tell each line's series grouped `by` those names (None: not
        grouped): every name asked is counted or in no line's metadata."""
        if by is None:
            return self.names <= frozenset(VALUE_NAMES)
        return all(name in VALUE_NAMES or name not in self.names for name in by)

    def series(self, stream: Labels, by: Sequence[str] | None) -> list[Labels]:
        """Per set, the series its lines count in (when `answers(by)`)."""
        return [series_labels(stream, labels, by) for labels in self.sets]
