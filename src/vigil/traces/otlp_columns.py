"""What every span receiver (OTLP protobuf, OTLP/JSON, Zipkin) fills: `SpanColumns`, the
`Spans` of one request built a column at a time, with OTLP's validity rules applied per span.

A span whose ids are not OTLP's (a 16-byte trace id and an 8-byte span id, not all zeros; a
parent id empty or 8 bytes; links' ids of those sizes) or whose times do not fit int64 ns is
refused and counted by reason, for OTLP's `partial_success`; an end before the start is no
duration; attribute values longer than the limit are cut to it and counted as a warning (the
span is kept)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.traces._api import (
    KIND_CONSUMER,
    SPAN_ID_SIZE,
    STATUS_ERROR,
    TRACE_ID_SIZE,
    Attributes,
    Event,
    Link,
    Resource,
    Scope,
    Spans,
)

_INT64_MAX = 2**63 - 1
_MAX_REASONS_SHOWN = 5

BAD_TRACE_ID = "an invalid trace id (want 16 bytes, not all zeros)"
BAD_SPAN_ID = "an invalid span id (want 8 bytes, not all zeros)"
BAD_PARENT_ID = "an invalid parent span id (want 8 bytes or none)"
BAD_LINK_ID = "a link with an invalid trace or span id"
BAD_TIME = "a start or end time beyond int64 nanoseconds"


@dataclass(frozen=True, slots=True)
class SpanLimits:
    """Bounds on what one span may carry; the request body's bound is the receiver's."""

    max_attribute_bytes: int = 32 << 10  # longer string or bytes values are cut to this


class SpanColumns:
    """The spans of one request as columns: `add` only appends; `spans()` checks them all
    at once (numpy over the id and time columns) and hands over the valid ones as `Spans`,
    after which `refused` counts the others by reason."""

    def __init__(self, limits: SpanLimits = SpanLimits()) -> None:
        self.max_value = limits.max_attribute_bytes
        self._trace_ids: list[bytes] = []
        self._span_ids: list[bytes] = []
        self._parent_ids: list[bytes] = []
        self._start: list[int] = []
        self._end: list[int] = []
        self._kind: list[int] = []
        self._status: list[int] = []
        self._service: list[int] = []
        self._name: list[int] = []
        self._status_message: list[int] = []
        self._trace_state: list[int] = []
        self._resource: list[int] = []
        self._scope: list[int] = []
        self._attributes: list[Attributes] = []
        self._events: list[tuple[Event, ...]] = []
        self._links: list[tuple[Link, ...]] = []
        self._bad_links: list[int] = []
        self._strings: dict[str, int] = {"": 0}
        self._resources: list[Resource] = []
        self._scopes: list[Scope] = []
        self._resource_service: list[int] = []
        self.refused: Counter[str] = Counter()
        self.truncated = 0

    def resource(self, resource: Resource) -> int:
        """The index spans of `resource` are added with."""
        self._resources.append(resource)
        self._resource_service.append(self._code(resource.service_name))
        return len(self._resources) - 1

    def scope(self, scope: Scope) -> int:
        self._scopes.append(scope)
        return len(self._scopes) - 1

    def add(
        self,
        resource: int,
        scope: int,
        trace_id: bytes,
        span_id: bytes,
        parent_id: bytes,
        name: str,
        kind: int,
        start_ns: int,
        end_ns: int,
        attributes: Attributes = (),
        events: tuple[Event, ...] = (),
        links: tuple[Link, ...] = (),
        status_code: int = 0,
        status_message: str = "",
        trace_state: str = "",
    ) -> None:
        self.extend(
            resource,
            scope,
            [trace_id],
            [span_id],
            [parent_id],
            [name],
            [kind],
            [start_ns],
            [end_ns],
            [attributes],
            [events],
            [links],
            [status_code],
            [status_message],
            [trace_state],
        )

    def extend(
        self,
        resource: int,
        scope: int,
        trace_ids: list[bytes],
        span_ids: list[bytes],
        parent_ids: list[bytes],
        names: list[str],
        kinds: list[int],
        start_ns: list[int],
        end_ns: list[int],
        attributes: list[Attributes],
        events: list[tuple[Event, ...]],
        links: list[tuple[Link, ...]],
        status_codes: list[int],
        status_messages: list[str],
        trace_states: list[str],
    ) -> None:
        """`add` for many spans of one resource and scope, a column at a time."""
        n, first = len(trace_ids), len(self._start)
        if any(links):
            self._bad_links += [
                first + i
                for i, found in enumerate(links)
                if found and not all(map(_valid_link, found))
            ]
        self._trace_ids += trace_ids
        self._span_ids += span_ids
        self._parent_ids += parent_ids
        self._start += start_ns
        self._end += end_ns
        self._kind += kinds
        self._status += status_codes
        self._service += [self._resource_service[resource]] * n
        self._name += self._codes(names)
        self._status_message += self._codes(status_messages)
        self._trace_state += self._codes(trace_states)
        self._resource += [resource] * n
        self._scope += [scope] * n
        self._attributes += attributes
        self._events += events
        self._links += links

    def text(self, value: str) -> str:
        """`value`, cut to the attribute limit in UTF-8 bytes (counted) when longer."""
        if len(value) * 4 <= self.max_value:
            return value
        raw = value.encode()
        if len(raw) <= self.max_value:
            return value
        self.truncated += 1
        return raw[: self.max_value].decode(errors="ignore")

    def blob(self, value: bytes) -> bytes:
        if len(value) <= self.max_value:
            return value
        self.truncated += 1
        return value[: self.max_value]

    def refused_count(self) -> int:
        return sum(self.refused.values())

    def message(self) -> str:
        """What OTLP's `partial_success.error_message` says (after `spans()`): the spans
        refused by reason and the values cut ("" when neither)."""
        parts = [
            f"{count} spans with {reason}"
            for reason, count in self.refused.most_common(_MAX_REASONS_SHOWN)
        ]
        if self.refused:
            parts[0] = "refused " + parts[0]
        if self.truncated:
            parts.append(
                f"{self.truncated} attribute values cut to {self.max_value} bytes (the limit)"
            )
        return "; ".join(parts)

    def spans(self) -> Spans:
        """The valid spans; the others counted in `refused` (call once)."""
        n = len(self._start)
        trace_ids, bad_trace = _ids(self._trace_ids, TRACE_ID_SIZE, n, empty_ok=False)
        span_ids, bad_span = _ids(self._span_ids, SPAN_ID_SIZE, n, empty_ok=False)
        parent_ids, bad_parent = _ids(self._parent_ids, SPAN_ID_SIZE, n, empty_ok=True)
        start, bad_start = _times(self._start)
        end, bad_end = _times(self._end)
        bad_link = np.zeros(n, dtype=bool)
        bad_link[self._bad_links] = True
        refused = np.zeros(n, dtype=bool)
        for reason, bad in (
            (BAD_TRACE_ID, bad_trace),
            (BAD_SPAN_ID, bad_span),
            (BAD_PARENT_ID, bad_parent),
            (BAD_TIME, bad_start | bad_end),
            (BAD_LINK_ID, bad_link),
        ):
            count = int(np.count_nonzero(bad & ~refused))
            if count:
                self.refused[reason] += count
                refused |= bad
        kind = np.array(self._kind, dtype=np.int64)
        status = np.array(self._status, dtype=np.int64)
        spans = Spans(
            trace_ids=trace_ids,
            span_ids=span_ids,
            parent_ids=parent_ids,
            start_ns=start,
            duration_ns=np.maximum(end - start, 0),
            kind=np.where((kind < 0) | (kind > KIND_CONSUMER), 0, kind).astype(np.int8),
            status_code=np.where((status < 0) | (status > STATUS_ERROR), 0, status).astype(np.int8),
            service=np.array(self._service, dtype=np.int32),
            name=np.array(self._name, dtype=np.int32),
            status_message=np.array(self._status_message, dtype=np.int32),
            trace_state=np.array(self._trace_state, dtype=np.int32),
            resource=np.array(self._resource, dtype=np.int32),
            scope=np.array(self._scope, dtype=np.int32),
            strings=tuple(self._strings),
            resources=tuple(self._resources),
            scopes=tuple(self._scopes),
            attributes=tuple(self._attributes),
            events=tuple(self._events),
            links=tuple(self._links),
        )
        return spans.take(np.flatnonzero(~refused)) if refused.any() else spans

    def _code(self, value: str) -> int:
        return self._strings.setdefault(value, len(self._strings))

    def _codes(self, values: list[str]) -> list[int]:
        """Each value's code: one dict lookup per distinct value, then a C loop."""
        strings = self._strings
        if len(values) > 1:
            for value in dict.fromkeys(values):
                strings.setdefault(value, len(strings))
            return list(map(strings.__getitem__, values))
        return [strings.setdefault(value, len(strings)) for value in values]


def _ids(
    ids: list[bytes], size: int, n: int, empty_ok: bool
) -> tuple[bytes, npt.NDArray[np.bool_]]:
    """The ids joined (an empty one as zeros) and which are invalid: not `size` bytes (an
    empty one allowed with `empty_ok`), or all zeros (allowed with `empty_ok`)."""
    joined = b"".join(ids)
    if len(joined) == size * n:
        bad = np.zeros(n, dtype=bool)
    else:
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=n)
        bad = lengths != size
        if empty_ok:
            bad &= lengths != 0
        zero = bytes(size)
        joined = b"".join(i if len(i) == size else zero for i in ids)
    if not empty_ok:
        words = np.frombuffer(joined, dtype=np.uint64).reshape(n, size // 8)
        bad |= ~words.any(axis=1)
    return joined, bad


def _times(values: list[int]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Unix ns as int64, and which do not fit (those beyond int64 read as 0)."""
    try:
        found = np.array(values, dtype=np.int64)
        return found, found < 0
    except OverflowError:
        wide = np.array([v if 0 <= v < 2**64 else 2**64 - 1 for v in values], dtype=np.uint64)
        bad = wide > _INT64_MAX
        return np.where(bad, 0, wide).astype(np.int64), bad


def _valid_link(link: Link) -> bool:
    return len(link.trace_id) == TRACE_ID_SIZE and len(link.span_id) == SPAN_ID_SIZE
