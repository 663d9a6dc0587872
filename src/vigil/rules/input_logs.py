"""`input_logs:` of a `vigil test rules` group, the log twin of promtool's `input_series`:

    input_logs:
      - stream: '{container="app", host="vm1"}'   # labels, as input_series' `series`
        values:                                   # [offset from the start, line]
          - [0s, "INFO started"]
          - [30s, "ERROR payment failed"]

Loaded into a MemoryLogStore that the Loki-ruler rules (`log_rule_files:`) query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vigil.config._yaml import Node
from vigil.logs import Entries, Lines, MemoryLogStore, logql
from vigil.model import Labels, MatchType


@dataclass(frozen=True, slots=True)
class InputStream:
    """One stream's lines; `offsets_ms` from the test group's start, as written."""

    labels: Labels
    offsets_ms: tuple[int, ...]
    lines: tuple[str, ...]


def parse_input_logs(items: Sequence[Node]) -> list[InputStream]:
    """The `input_logs` entries; errors name the line of the entry at fault."""
    streams = []
    for item in items:
        entry = item.mapping(("stream", "values"), "an input log stream")
        labels = stream_labels(entry.string("stream"))
        if labels is None:
            raise item.error("stream: the stream's labels, e.g. '{container=\"app\"}'")
        offsets, lines = [], []
        for value in entry.sequence("values"):
            pair = value.sequence()
            if len(pair) != 2:
                raise value.error('a log value is [offset, line], e.g. [30s, "ERROR boom"]')
            offsets.append(pair[0].duration().milliseconds)
            lines.append(pair[1].string())
        streams.append(InputStream(labels, tuple(offsets), tuple(lines)))
    return streams


def stream_labels(text: str) -> Labels | None:
    """A stream's labels written as its selector (`{a="b"}`: only `=`), else None."""
    try:
        expr = logql.parse(text)
    except logql.ParseError:
        return None
    if not isinstance(expr, logql.ast.LogQuery) or expr.stages:
        return None
    if any(m.type != MatchType.EQUAL for m in expr.matchers):
        return None
    return Labels.from_pairs((m.name, m.value) for m in expr.matchers)


def log_store(streams: Sequence[InputStream], start_ms: int) -> MemoryLogStore:
    """The streams' lines at `start_ms` + offset, in time order (equal times keep file order)."""
    store = MemoryLogStore()
    batches = []
    for stream in streams:
        order = np.argsort(np.array(stream.offsets_ms, dtype=np.int64), kind="stable")
        stamps = (start_ms + np.array(stream.offsets_ms, dtype=np.int64)[order]) * 1_000_000
        batches.append(Entries(stream.labels, stamps, Lines.of([stream.lines[i] for i in order])))
    store.push(batches)
    return store
