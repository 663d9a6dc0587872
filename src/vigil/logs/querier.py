"""The store's `LogQuerier`: the chunks of each matching stream, from every source (blocks,
then the head) that holds some, read as one stream per label set."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

from vigil.logs._api import BucketCounts, Entries, IndexStats, SelectHints
from vigil.logs.stream_read import (
    ReadableChunk,
    StatsTally,
    batches,
    bucket_counts,
    has_entries,
)
from vigil.model import Labels, Matcher

ChunkSource = Callable[[Sequence[Matcher]], list[tuple[Labels, list[ReadableChunk]]]]
"""Matching streams with their chunks, from one part of the store."""


class LogStoreQuerier:
    def __init__(
        self,
        sources: Sequence[ChunkSource],
        mint: int,
        maxt: int,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._sources = sources
        self._mint, self._maxt = mint, maxt
        self._on_close = on_close

    def _streams(self, matchers: Sequence[Matcher]) -> list[tuple[Labels, list[ReadableChunk]]]:
        merged: dict[Labels, list[ReadableChunk]] = {}
        for source in self._sources:
            for labels, chunks in source(matchers):
                merged.setdefault(labels, []).extend(chunks)
        return sorted(merged.items(), key=lambda item: item[0])

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[Entries]:
        wanted = hints if hints is not None else SelectHints()
        for labels, chunks in self._streams(matchers):
            yield from batches(labels, chunks, self._mint, self._maxt, wanted)

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return [
            labels
            for labels, chunks in self._streams(matchers)
            if has_entries(chunks, self._mint, self._maxt)
        ]

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({name for labels in self.series(matchers) for name in labels.names()})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({labels.get(name) for labels in self.series(matchers)} - {""})

    def stats(self, matchers: Sequence[Matcher]) -> IndexStats:
        tally = StatsTally()
        for _, chunks in self._streams(matchers):
            tally.add(chunks, self._mint, self._maxt)
        return tally.result()

    def counts(
        self,
        matchers: Sequence[Matcher],
        edges: npt.NDArray[np.int64],
        by: Sequence[str] | None = None,
    ) -> Iterator[BucketCounts]:
        for labels, chunks in self._streams(matchers):
            yield from bucket_counts(labels, chunks, edges, self._mint, self._maxt, by)

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()
