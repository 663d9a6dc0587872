"""Search by span filter, as Jaeger's `/api/traces` and Tempo's legacy `tags=` search do: the
traces that have a span of the service, with the name, the tags and a duration in bounds,
newest first (by their newest matching span), each read whole.

Service, name and duration are column comparisons (numpy over the batch); tags are then
checked on the remaining spans only. A tag matches a span's intrinsic (`service.name`,
`name`, `span.kind`, `status`/`status.code`/`otel.status_code`, `error=true`), one of its
attributes or one of its resource's, by the value's text (`200`, `true`, `1.5`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import orjson

from vigil.traces import (
    KIND_NAMES,
    STATUS_ERROR,
    STATUS_NAMES,
    AttrValue,
    KeyValues,
    SpanHints,
    SpanQuerier,
    Spans,
    attribute,
)

NO_ROOT = "<root span not yet received>"
_STATUS_KEYS = ("status", "status.code", "otel.status_code")


def value_text(value: AttrValue) -> str:
    """An attribute value as Go's fmt would print it for a tag match: `true`, `200`, `1.5`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return orjson.dumps(_plain(value)).decode()


def _plain(value: AttrValue) -> object:
    if isinstance(value, KeyValues):
        return {k: _plain(v) for k, v in value.items}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def intrinsic(batch: Spans, i: int, key: str) -> str | None:
    """The value of an intrinsic tag of span i, or None when `key` names none."""
    if key == "service.name":
        return batch.strings[int(batch.service[i])]
    if key == "name":
        return batch.strings[int(batch.name[i])]
    if key == "span.kind":
        return KIND_NAMES[int(batch.kind[i])]
    if key in _STATUS_KEYS:
        return STATUS_NAMES[int(batch.status_code[i])]
    if key == "error":
        return "true" if int(batch.status_code[i]) == STATUS_ERROR else None
    return None


@dataclass(frozen=True, slots=True)
class SpanFilter:
    service: str = ""
    name: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None

    def hints(self) -> SpanHints:
        return SpanHints(
            services=(self.service,) if self.service else (),
            names=(self.name,) if self.name else (),
            min_duration_ns=self.min_duration_ns,
            max_duration_ns=self.max_duration_ns,
        )

    def matches(self, batch: Spans) -> npt.NDArray[np.intp]:
        """Indices of the batch's spans that pass every condition."""
        mask = np.ones(len(batch), dtype=bool)
        if self.service:
            mask &= np.isin(batch.service, _codes(batch, self.service))
        if self.name:
            mask &= np.isin(batch.name, _codes(batch, self.name))
        if self.min_duration_ns is not None:
            mask &= batch.duration_ns >= self.min_duration_ns
        if self.max_duration_ns is not None:
            mask &= batch.duration_ns <= self.max_duration_ns
        candidates = np.flatnonzero(mask)
        if not self.tags:
            return candidates
        kept = [
            i for i in candidates.tolist() if all(self._tag(batch, i, k, v) for k, v in self.tags)
        ]
        return np.asarray(kept, dtype=np.intp)

    @staticmethod
    def _tag(batch: Spans, i: int, key: str, want: str) -> bool:
        found = intrinsic(batch, i, key)
        if found is not None and (found == want or (key in _STATUS_KEYS and found == want.lower())):
            return True
        for attributes in (batch.attributes[i], batch.resources[int(batch.resource[i])].attributes):
            value = attribute(attributes, key)
            if value is not None and value_text(value) == want:
                return True
        return False


def _codes(batch: Spans, text: str) -> list[int]:
    return [code for code, s in enumerate(batch.strings) if s == text]


@dataclass(frozen=True, slots=True)
class FoundTrace:
    """A whole trace (its spans in range, by start) and the ids of the spans that matched."""

    trace_id: bytes
    spans: Spans
    matched: tuple[bytes, ...]

    @property
    def start_ns(self) -> int:
        return int(self.spans.start_ns.min())

    @property
    def duration_ns(self) -> int:
        return int((self.spans.start_ns + self.spans.duration_ns).max()) - self.start_ns

    def root(self) -> int | None:
        """The index of the root span (the earliest without a parent), or None."""
        roots = np.flatnonzero(self.spans.parent_id_words() == 0)
        return int(roots[0]) if len(roots) else None

    @property
    def root_service(self) -> str:
        root = self.root()
        return NO_ROOT if root is None else self.spans.strings[int(self.spans.service[root])]

    @property
    def root_name(self) -> str:
        root = self.root()
        return "" if root is None else self.spans.strings[int(self.spans.name[root])]


def find_traces(
    querier: SpanQuerier,
    span_filter: SpanFilter,
    limit: int,
    keep: Callable[[FoundTrace], bool] = lambda _: True,
) -> list[FoundTrace]:
    """Up to `limit` traces with a matching span that `keep` accepts, newest first."""
    newest: dict[bytes, int] = {}
    for batch in querier.select(span_filter.hints()):
        for trace_id, start in _newest_hits(batch, span_filter.matches(batch)):
            if start > newest.get(trace_id, -1):
                newest[trace_id] = start
    found: list[FoundTrace] = []
    for trace_id in sorted(newest, key=newest.__getitem__, reverse=True):
        if len(found) >= limit:
            break
        spans = querier.trace(trace_id)
        hits = span_filter.matches(spans)
        if not len(hits):
            continue
        trace = FoundTrace(trace_id, spans, tuple(spans.span_id(i) for i in hits.tolist()))
        if keep(trace):
            found.append(trace)
    return found


def _newest_hits(batch: Spans, hits: npt.NDArray[np.intp]) -> Iterator[tuple[bytes, int]]:
    """Each trace of the hits once, with the start of its newest hit."""
    if not len(hits):
        return
    ids, inverse = np.unique(np.frombuffer(batch.trace_ids, dtype="V16")[hits], return_inverse=True)
    newest = np.full(len(ids), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(newest, inverse, batch.start_ns[hits])
    for trace_id, start in zip(ids.tolist(), newest.tolist(), strict=True):
        yield bytes(trace_id), start
