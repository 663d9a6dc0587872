"""What every span receiver (OTLP protobuf, OTLP/JSON, Zipkin) fills: `SpanColumns`, the
`Spans` of one request built a column at a time, with OTLP's validity rules applied per span.

A span whose ids are not OTLP's (a 16-byte trace id and an 8-byte span id, not all zeros; a
parent id empty or 8 bytes) or whose start does not fit int64 ns is refused and counted by
reason, for OTLP's `partial_success`; attribute values longer than the limit are cut to it
and counted as a warning (the span is kept)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from vigil.traces._api import (
    KIND_CONSUMER,
    NO_PARENT,
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

_ZERO_TRACE = bytes(TRACE_ID_SIZE)
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
    """The spans of one request as columns; `spans()` hands them over as `Spans`."""

    def __init__(self, limits: SpanLimits = SpanLimits()) -> None:
        self.max_value = limits.max_attribute_bytes
        self._trace_ids: list[bytes] = []
        self._span_ids: list[bytes] = []
        self._parent_ids: list[bytes] = []
        self._start: list[int] = []
        self._duration: list[int] = []
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
        """One span, or one more refused span counted by reason."""
        problem = _problem(trace_id, span_id, parent_id, start_ns, end_ns, links)
        if problem is not None:
            self.refused[problem] += 1
            return
        code = self._strings.setdefault
        self._trace_ids.append(trace_id)
        self._span_ids.append(span_id)
        self._parent_ids.append(parent_id or NO_PARENT)
        self._start.append(start_ns)
        self._duration.append(end_ns - start_ns if end_ns > start_ns else 0)
        self._kind.append(kind if 0 <= kind <= KIND_CONSUMER else 0)
        self._status.append(status_code if 0 <= status_code <= STATUS_ERROR else 0)
        self._service.append(self._resource_service[resource])
        self._name.append(code(name, len(self._strings)))
        self._status_message.append(code(status_message, len(self._strings)))
        self._trace_state.append(code(trace_state, len(self._strings)))
        self._resource.append(resource)
        self._scope.append(scope)
        self._attributes.append(attributes)
        self._events.append(events)
        self._links.append(links)

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

    def __len__(self) -> int:
        return len(self._start)

    def refused_count(self) -> int:
        return sum(self.refused.values())

    def message(self) -> str:
        """What OTLP's `partial_success.error_message` says: the spans refused by reason and
        the values cut ("" when neither)."""
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
        def column(values: list[int], dtype: type[np.generic]) -> np.typing.NDArray[np.generic]:
            return np.array(values, dtype=dtype)

        return Spans(
            trace_ids=b"".join(self._trace_ids),
            span_ids=b"".join(self._span_ids),
            parent_ids=b"".join(self._parent_ids),
            start_ns=column(self._start, np.int64),  # type: ignore[arg-type]
            duration_ns=column(self._duration, np.int64),  # type: ignore[arg-type]
            kind=column(self._kind, np.int8),  # type: ignore[arg-type]
            status_code=column(self._status, np.int8),  # type: ignore[arg-type]
            service=column(self._service, np.int32),  # type: ignore[arg-type]
            name=column(self._name, np.int32),  # type: ignore[arg-type]
            status_message=column(self._status_message, np.int32),  # type: ignore[arg-type]
            trace_state=column(self._trace_state, np.int32),  # type: ignore[arg-type]
            resource=column(self._resource, np.int32),  # type: ignore[arg-type]
            scope=column(self._scope, np.int32),  # type: ignore[arg-type]
            strings=tuple(self._strings),
            resources=tuple(self._resources),
            scopes=tuple(self._scopes),
            attributes=tuple(self._attributes),
            events=tuple(self._events),
            links=tuple(self._links),
        )

    def _code(self, value: str) -> int:
        return self._strings.setdefault(value, len(self._strings))


def _problem(
    trace_id: bytes,
    span_id: bytes,
    parent_id: bytes,
    start_ns: int,
    end_ns: int,
    links: tuple[Link, ...],
) -> str | None:
    if len(trace_id) != TRACE_ID_SIZE or trace_id == _ZERO_TRACE:
        return BAD_TRACE_ID
    if len(span_id) != SPAN_ID_SIZE or span_id == NO_PARENT:
        return BAD_SPAN_ID
    if parent_id and len(parent_id) != SPAN_ID_SIZE:
        return BAD_PARENT_ID
    if not 0 <= start_ns <= _INT64_MAX or not 0 <= end_ns <= _INT64_MAX:
        return BAD_TIME
    for link in links:
        if len(link.trace_id) != TRACE_ID_SIZE or len(link.span_id) != SPAN_ID_SIZE:
            return BAD_LINK_ID
    return None
