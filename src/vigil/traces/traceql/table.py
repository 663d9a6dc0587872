"""The spans a query runs over, as one column with each span's trace and each trace's root,
extent and start: what trace-level intrinsics (`trace:rootService`, `trace:duration`) and the
search answer read, computed once with numpy; span attributes as typed columns, each built
when a query first reads it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from vigil.traces._api import Spans
from vigil.traces.traceql.attribute_column import AttributeColumn


@dataclass(frozen=True)
class SpanTable:
    """`spans` with `trace[i]`, the index of span i's trace in `trace_ids` (sorted by id)."""

    spans: Spans

    @classmethod
    def of(cls, batches: Sequence[Spans]) -> SpanTable:
        return cls(Spans.concat(batches))

    def __len__(self) -> int:
        return len(self.spans)

    @cached_property
    def _traces(self) -> tuple[npt.NDArray[np.void], npt.NDArray[np.intp]]:
        ids = np.frombuffer(self.spans.trace_ids, dtype="V16")
        unique, inverse = np.unique(ids, return_inverse=True)
        return unique, inverse.reshape(-1).astype(np.intp)

    @property
    def trace(self) -> npt.NDArray[np.intp]:
        return self._traces[1]

    @property
    def trace_count(self) -> int:
        return len(self._traces[0])

    def trace_id(self, t: int) -> bytes:
        return bytes(self._traces[0][t])

    def attribute(self, name: str) -> AttributeColumn:
        """Span attribute `name` of every row, as typed columns built on first use."""
        found = self._attributes.get(name)
        if found is None:
            found = self._attributes[name] = AttributeColumn.find(self.spans.attributes, name)
        return found

    @cached_property
    def _attributes(self) -> dict[str, AttributeColumn]:
        return {}

    @cached_property
    def trace_start_ns(self) -> npt.NDArray[np.int64]:
        start = np.full(self.trace_count, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(start, self.trace, self.spans.start_ns)
        return start

    @cached_property
    def trace_duration_ns(self) -> npt.NDArray[np.int64]:
        end = np.zeros(self.trace_count, dtype=np.int64)
        np.maximum.at(end, self.trace, self.spans.start_ns + self.spans.duration_ns)
        return end - self.trace_start_ns

    @cached_property
    def root(self) -> npt.NDArray[np.intp]:
        """Per trace, the row of its root span (the earliest span without a parent), or -1."""
        roots = np.flatnonzero(self.spans.parent_id_words() == 0)
        order = roots[np.lexsort((self.spans.start_ns[roots], self.trace[roots]))]
        traces, first = np.unique(self.trace[order], return_index=True)
        found = np.full(self.trace_count, -1, dtype=np.intp)
        found[traces] = order[first]
        return found
