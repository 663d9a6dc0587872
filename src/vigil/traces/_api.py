"""The span store's two seams (see STYLE.md): receivers (OTLP, Zipkin) hold a
`SpanAppender`; the Jaeger and Tempo APIs, TraceQL, span metrics and the UI hold a
`SpanQuerier`.

Spans travel as columns (`Spans`): ids as one bytes blob each (16 bytes per trace id,
8 per span id, so numpy views them as big-endian uint64 pairs without a copy), times and
enums as numpy arrays, names dictionary-coded into one string table. Attributes, events
and links stay Python values per span, which the protobuf decoder builds anyway. The disk
store, a remote store or a test fake implement the same Protocols; `MemorySpanStore`, the
fake, lives here beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Protocol, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

AttrValue: TypeAlias = "str | bool | int | float | bytes | tuple[AttrValue, ...] | KeyValues"
Attributes: TypeAlias = tuple[tuple[str, AttrValue], ...]

TRACE_ID_SIZE = 16
SPAN_ID_SIZE = 8
NO_PARENT = bytes(SPAN_ID_SIZE)

# OTLP's enums, kept as their integer values (the wire and the store use these).
KIND_UNSPECIFIED, KIND_INTERNAL, KIND_SERVER, KIND_CLIENT, KIND_PRODUCER, KIND_CONSUMER = range(6)
KIND_NAMES = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_UNSET, STATUS_OK, STATUS_ERROR = range(3)
STATUS_NAMES = ("unset", "ok", "error")


@dataclass(frozen=True, slots=True)
class KeyValues:
    """OTLP's `kvlistValue`: a nested attribute map, kept in wire order."""

    items: Attributes = ()


def attribute(attributes: Attributes, key: str) -> AttrValue | None:
    """The value of `key`, or None when absent (the last one wins if repeated)."""
    found: AttrValue | None = None
    for k, v in attributes:
        if k == key:
            found = v
    return found


@dataclass(frozen=True, slots=True)
class Resource:
    """The entity that produced spans; `service.name` is its service (OTLP's
    `unknown_service` when missing)."""

    attributes: Attributes = ()

    @property
    def service_name(self) -> str:
        name = attribute(self.attributes, "service.name")
        return name if isinstance(name, str) and name else "unknown_service"


@dataclass(frozen=True, slots=True)
class Scope:
    """The instrumentation library that made the spans."""

    name: str = ""
    version: str = ""
    attributes: Attributes = ()


@dataclass(frozen=True, slots=True)
class Event:
    time_ns: int
    name: str
    attributes: Attributes = ()


@dataclass(frozen=True, slots=True)
class Link:
    trace_id: bytes
    span_id: bytes
    attributes: Attributes = ()
    trace_state: str = ""


@dataclass(frozen=True, slots=True)
class Span:
    """One span as a value: what `Spans.of` takes and `Spans.rows` gives, for receivers
    that build spans one by one (Zipkin, tests) and APIs that render one trace."""

    trace_id: bytes
    span_id: bytes
    name: str
    start_ns: int
    end_ns: int
    parent_span_id: bytes = NO_PARENT
    kind: int = KIND_UNSPECIFIED
    status_code: int = STATUS_UNSET
    status_message: str = ""
    attributes: Attributes = ()
    events: tuple[Event, ...] = ()
    links: tuple[Link, ...] = ()
    resource: Resource = Resource()
    scope: Scope = Scope()
    trace_state: str = ""

    @property
    def service_name(self) -> str:
        return self.resource.service_name

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class Spans:
    """A column of spans. Row i: `trace_ids[16i:16i+16]`, `span_ids[8i:8i+8]`,
    `parent_ids[8i:8i+8]` (zeros for a root), `strings[service[i]]`, `strings[name[i]]`,
    `strings[status_message[i]]`, `strings[trace_state[i]]`, `resources[resource[i]]`,
    `scopes[scope[i]]`, and `attributes[i]`, `events[i]`, `links[i]`."""

    trace_ids: bytes
    span_ids: bytes
    parent_ids: bytes
    start_ns: npt.NDArray[np.int64]  # Unix ns
    duration_ns: npt.NDArray[np.int64]  # end - start, never negative
    kind: npt.NDArray[np.int8]
    status_code: npt.NDArray[np.int8]
    service: npt.NDArray[np.int32]
    name: npt.NDArray[np.int32]
    status_message: npt.NDArray[np.int32]
    trace_state: npt.NDArray[np.int32]
    resource: npt.NDArray[np.int32]
    scope: npt.NDArray[np.int32]
    strings: tuple[str, ...]
    resources: tuple[Resource, ...]
    scopes: tuple[Scope, ...]
    attributes: tuple[Attributes, ...]
    events: tuple[tuple[Event, ...], ...]
    links: tuple[tuple[Link, ...], ...]

    def __len__(self) -> int:
        return len(self.start_ns)

    @classmethod
    def empty(cls) -> Spans:
        return cls.of(())

    @classmethod
    def of(cls, spans: Iterable[Span]) -> Spans:
        rows = list(spans)
        strings: dict[str, int] = {}
        resources: dict[Resource, int] = {}
        scopes: dict[Scope, int] = {}

        def code(table: dict[str, int], value: str) -> int:
            return table.setdefault(value, len(table))

        def column(values: Iterable[int], dtype: type[np.generic]) -> npt.NDArray[np.generic]:
            return np.fromiter(values, dtype=dtype, count=len(rows))

        return cls(
            trace_ids=b"".join(_exact(s.trace_id, TRACE_ID_SIZE) for s in rows),
            span_ids=b"".join(_exact(s.span_id, SPAN_ID_SIZE) for s in rows),
            parent_ids=b"".join(_exact(s.parent_span_id, SPAN_ID_SIZE) for s in rows),
            start_ns=column((s.start_ns for s in rows), np.int64),  # type: ignore[arg-type]
            duration_ns=column((max(0, s.duration_ns) for s in rows), np.int64),  # type: ignore[arg-type]
            kind=column((s.kind for s in rows), np.int8),  # type: ignore[arg-type]
            status_code=column((s.status_code for s in rows), np.int8),  # type: ignore[arg-type]
            service=column((code(strings, s.service_name) for s in rows), np.int32),  # type: ignore[arg-type]
            name=column((code(strings, s.name) for s in rows), np.int32),  # type: ignore[arg-type]
            status_message=column((code(strings, s.status_message) for s in rows), np.int32),  # type: ignore[arg-type]
            trace_state=column((code(strings, s.trace_state) for s in rows), np.int32),  # type: ignore[arg-type]
            resource=column(
                (resources.setdefault(s.resource, len(resources)) for s in rows), np.int32
            ),  # type: ignore[arg-type]
            scope=column((scopes.setdefault(s.scope, len(scopes)) for s in rows), np.int32),  # type: ignore[arg-type]
            strings=tuple(strings),
            resources=tuple(resources),
            scopes=tuple(scopes),
            attributes=tuple(s.attributes for s in rows),
            events=tuple(s.events for s in rows),
            links=tuple(s.links for s in rows),
        )

    def trace_id(self, i: int) -> bytes:
        return self.trace_ids[TRACE_ID_SIZE * i : TRACE_ID_SIZE * (i + 1)]

    def span_id(self, i: int) -> bytes:
        return self.span_ids[SPAN_ID_SIZE * i : SPAN_ID_SIZE * (i + 1)]

    def parent_id(self, i: int) -> bytes:
        return self.parent_ids[SPAN_ID_SIZE * i : SPAN_ID_SIZE * (i + 1)]

    def trace_id_words(self) -> npt.NDArray[np.uint64]:
        """Trace ids as an (n, 2) array of big-endian uint64 (high, low): a view, no copy;
        lexicographic order of the rows is the order of the ids' bytes."""
        return np.frombuffer(self.trace_ids, dtype=">u8").reshape(-1, 2)

    def span_id_words(self) -> npt.NDArray[np.uint64]:
        return np.frombuffer(self.span_ids, dtype=">u8")

    def parent_id_words(self) -> npt.NDArray[np.uint64]:
        """0 for a root span."""
        return np.frombuffer(self.parent_ids, dtype=">u8")

    def service_names(self) -> list[str]:
        return [self.strings[i] for i in self.service.tolist()]

    def span_names(self) -> list[str]:
        return [self.strings[i] for i in self.name.tolist()]

    def row(self, i: int) -> Span:
        start = int(self.start_ns[i])
        return Span(
            trace_id=self.trace_id(i),
            span_id=self.span_id(i),
            parent_span_id=self.parent_id(i),
            name=self.strings[int(self.name[i])],
            start_ns=start,
            end_ns=start + int(self.duration_ns[i]),
            kind=int(self.kind[i]),
            status_code=int(self.status_code[i]),
            status_message=self.strings[int(self.status_message[i])],
            attributes=self.attributes[i],
            events=self.events[i],
            links=self.links[i],
            resource=self.resources[int(self.resource[i])],
            scope=self.scopes[int(self.scope[i])],
            trace_state=self.strings[int(self.trace_state[i])],
        )

    def rows(self) -> Iterator[Span]:
        return (self.row(i) for i in range(len(self)))

    def take(self, indices: npt.NDArray[np.intp] | Sequence[int]) -> Spans:
        """The spans at `indices` (in that order); tables are kept whole."""
        idx = np.asarray(indices, dtype=np.intp)
        picked = idx.tolist()
        ids = np.frombuffer(self.trace_ids, dtype="V16")[idx].tobytes()
        sids = np.frombuffer(self.span_ids, dtype="V8")[idx].tobytes()
        pids = np.frombuffer(self.parent_ids, dtype="V8")[idx].tobytes()
        return Spans(
            trace_ids=ids,
            span_ids=sids,
            parent_ids=pids,
            start_ns=self.start_ns[idx],
            duration_ns=self.duration_ns[idx],
            kind=self.kind[idx],
            status_code=self.status_code[idx],
            service=self.service[idx],
            name=self.name[idx],
            status_message=self.status_message[idx],
            trace_state=self.trace_state[idx],
            resource=self.resource[idx],
            scope=self.scope[idx],
            strings=self.strings,
            resources=self.resources,
            scopes=self.scopes,
            attributes=tuple(self.attributes[i] for i in picked),
            events=tuple(self.events[i] for i in picked),
            links=tuple(self.links[i] for i in picked),
        )

    @classmethod
    def concat(cls, batches: Sequence[Spans]) -> Spans:
        """One column of all batches' spans, in order: numpy concatenation plus a remap of
        each batch's small tables (strings, resources, scopes); no Python step per span."""
        batches = [b for b in batches if len(b)]
        if len(batches) == 1:
            return batches[0]
        if not batches:
            return cls.empty()
        strings: dict[str, int] = {}
        resources: dict[Resource, int] = {}
        scopes: dict[Scope, int] = {}
        coded: dict[str, list[npt.NDArray[np.int32]]] = {
            k: [] for k in ("service", "name", "status_message", "trace_state", "resource", "scope")
        }
        for batch in batches:
            codes = _remapped(strings, batch.strings)
            coded["service"].append(codes[batch.service])
            coded["name"].append(codes[batch.name])
            coded["status_message"].append(codes[batch.status_message])
            coded["trace_state"].append(codes[batch.trace_state])
            coded["resource"].append(_remapped(resources, batch.resources)[batch.resource])
            coded["scope"].append(_remapped(scopes, batch.scopes)[batch.scope])
        return cls(
            trace_ids=b"".join(b.trace_ids for b in batches),
            span_ids=b"".join(b.span_ids for b in batches),
            parent_ids=b"".join(b.parent_ids for b in batches),
            start_ns=np.concatenate([b.start_ns for b in batches]),
            duration_ns=np.concatenate([b.duration_ns for b in batches]),
            kind=np.concatenate([b.kind for b in batches]),
            status_code=np.concatenate([b.status_code for b in batches]),
            service=np.concatenate(coded["service"]),
            name=np.concatenate(coded["name"]),
            status_message=np.concatenate(coded["status_message"]),
            trace_state=np.concatenate(coded["trace_state"]),
            resource=np.concatenate(coded["resource"]),
            scope=np.concatenate(coded["scope"]),
            strings=tuple(strings),
            resources=tuple(resources),
            scopes=tuple(scopes),
            attributes=tuple(chain.from_iterable(b.attributes for b in batches)),
            events=tuple(chain.from_iterable(b.events for b in batches)),
            links=tuple(chain.from_iterable(b.links for b in batches)),
        )


_T = TypeVar("_T")


def _remapped(table: dict[_T, int], values: Sequence[_T]) -> npt.NDArray[np.int32]:
    """Each value's code in `table` (new ones added), as a lookup array."""
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int32)


def _exact(value: bytes, size: int) -> bytes:
    if len(value) != size:
        raise ValueError(f"id is {len(value)} bytes, want {size}")
    return value


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append stored: spans refused (over a limit, invalid) are counted with the
    reason, for OTLP's `partial_success` answer."""

    accepted: int
    rejected: int = 0
    message: str = ""


class SpanAppender(Protocol):
    def append(self, spans: Spans) -> AppendResult:
        """Store spans: returns once what it accepted is in the WAL (durable by the store's
        fsync policy), so an acknowledged export survives `kill -9`. Raises OSError when
        the store cannot write (a full disk): then nothing is stored and the receiver
        answers 503 so the exporter retries."""
        ...


@dataclass(frozen=True, slots=True)
class SpanHints:
    """What the caller will keep; a store may use it to read less, the caller still
    filters every span it gets. Empty tuples and None mean no restriction, but for
    `attributes`: the span attribute keys the caller reads (None: all of them, and events
    and links); a store may leave the other span attributes out, and events and links."""

    services: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    error_only: bool = False
    attributes: frozenset[str] | None = None


class SpanQuerier(Protocol):
    """Read access over spans that start in [mint_ns, maxt_ns] (inclusive)."""

    def trace(self, trace_id: bytes) -> Spans:
        """Every stored span of the trace, each span id once (an exporter's retry stores a
        span twice), ascending by start; empty when unknown."""
        ...

    def traces(self, trace_ids: Sequence[bytes]) -> list[Spans]:
        """`trace()` of each id, in order: a store reads a page once for all the ids it
        holds (a search's answer is the newest traces, mostly in the same few pages)."""
        ...

    def select(self, hints: SpanHints | None = None) -> Iterator[Spans]:
        """Spans in range, lazily, in batches (a block's part is read when its batch is
        pulled); a batch is never empty. A span stored twice comes twice: a reader gathering
        batches drops the copies (`traces.distinct`)."""
        ...

    def services(self) -> list[str]:
        """Service names with spans in range, sorted."""
        ...

    def span_names(self, service: str | None = None) -> list[tuple[str, int]]:
        """(span name, kind) pairs in range, of one service or all, sorted."""
        ...

    def close(self) -> None: ...


class SpanQueryable(Protocol):
    def querier(self, mint_ns: int, maxt_ns: int) -> SpanQuerier: ...


class MemorySpanStore:
    """Spans kept as a list of batches, no limits, no disk: the store of TraceQL and API
    unit tests. Implements `SpanAppender` and `SpanQueryable`. Readers get the batches
    joined into columns of at least `JOINED_SPANS` (joined once: appends only add), as the
    disk store's pages are, so a query's cost per batch does not add up over small ones."""

    JOINED_SPANS = 8192

    def __init__(self) -> None:
        self._batches: list[Spans] = []
        self._ids: tuple[int, npt.NDArray[np.uint64], npt.NDArray[np.intp]] | None = None
        self._joined: list[Spans] = []
        self._joined_batches = 0

    def append(self, spans: Spans) -> AppendResult:
        if len(spans):
            self._batches.append(spans)
        return AppendResult(len(spans))

    def querier(self, mint_ns: int, maxt_ns: int) -> SpanQuerier:
        return _MemorySpanQuerier(self, mint_ns, maxt_ns)

    def columns(self) -> list[Spans]:
        """Every span: the joined columns, then the batches not joined yet."""
        run: list[Spans] = []
        size = 0
        for batch in self._batches[self._joined_batches :]:
            run.append(batch)
            size += len(batch)
            if size >= self.JOINED_SPANS:
                self._joined.append(Spans.concat(run))
                self._joined_batches += len(run)
                run, size = [], 0
        return [*self._joined, *run]

    def locate(self, trace_id: bytes) -> list[tuple[Spans, int]]:
        """(batch, row) of each span of the trace: one comparison over every span's id,
        kept as one array until the next append."""
        if self._ids is None or self._ids[0] != len(self._batches):
            ids = b"".join(b.trace_ids for b in self._batches)
            words = np.frombuffer(ids, dtype=np.uint64).reshape(-1, 2)
            starts = np.cumsum([0] + [len(b) for b in self._batches]).astype(np.intp)
            self._ids = (len(self._batches), words, starts)
        _, words, starts = self._ids
        high, low = np.frombuffer(_exact(trace_id, TRACE_ID_SIZE), dtype=np.uint64)
        found = np.flatnonzero(words[:, 1] == low)
        found = found[words[found, 0] == high]
        batches = np.searchsorted(starts, found, side="right") - 1
        return [
            (self._batches[b], i - int(starts[b]))
            for b, i in zip(batches.tolist(), found.tolist(), strict=True)
        ]


@dataclass(slots=True)
class _MemorySpanQuerier:
    store: MemorySpanStore
    mint: int
    maxt: int

    def _in_range(self) -> Iterator[Spans]:
        for batch in self.store.columns():
            keep = np.flatnonzero((batch.start_ns >= self.mint) & (batch.start_ns <= self.maxt))
            if len(keep) == len(batch):
                yield batch
            elif len(keep):
                yield batch.take(keep)

    def trace(self, trace_id: bytes) -> Spans:
        found: dict[bytes, Span] = {}
        for batch, i in self.store.locate(trace_id):
            if self.mint <= batch.start_ns[i] <= self.maxt:
                found.setdefault(batch.span_id(i), batch.row(i))
        return Spans.of(sorted(found.values(), key=lambda s: s.start_ns))

    def traces(self, trace_ids: Sequence[bytes]) -> list[Spans]:
        return [self.trace(t) for t in trace_ids]

    def select(self, hints: SpanHints | None = None) -> Iterator[Spans]:
        return iter(list(self._in_range()))

    def services(self) -> list[str]:
        return sorted({s for batch in self._in_range() for s in batch.service_names()})

    def span_names(self, service: str | None = None) -> list[tuple[str, int]]:
        found = {
            (span.name, span.kind)
            for batch in self._in_range()
            for span in batch.rows()
            if service is None or span.service_name == service
        }
        return sorted(found)

    def close(self) -> None:
        return None
