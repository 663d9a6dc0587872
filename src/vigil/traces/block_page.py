"""A page of spans: the span store's one encoding, shared by the head, the WAL and blocks.

A page holds spans sorted by trace id, then start, as columns in one zstd frame: each
trace id once with its span count; span ids raw; a parent as the distance to its row (a
parent outside the page is kept whole); starts as deltas within their trace (the first from
the page's earliest start) and durations, byte-shuffled; kind and status in one byte;
service, name, status message, trace state, resource and scope as codes into the page's
own tables (strings, resources, scopes); attributes, events and links as attribute sections
(see block_attributes). A page is self-contained: it decodes without its block.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import zstandard

from vigil.model.sorted_set import sorted_set
from vigil.traces._api import (
    SPAN_ID_SIZE,
    TRACE_ID_SIZE,
    Attributes,
    Event,
    Link,
    Resource,
    Scope,
    Spans,
)
from vigil.traces.block_attributes import (
    Strings,
    code,
    decode_attributes,
    encode_attributes,
    pack,
    shuffled,
    spread,
    unpack,
    unshuffled,
)

VERSION = 1
HEAD = struct.Struct("<IIIIIIq")  # spans, traces, resources, scopes, events, links, base
SECTIONS = 23
EXTERNAL = np.iinfo(np.int32).min  # parent not in the page: kept whole
_MIX = np.uint64(0x9E3779B97F4A7C15)
_NO_EVENTS: tuple[Event, ...] = ()
_NO_LINKS: tuple[Link, ...] = ()


class _Codec(threading.local):
    """A zstd context decompresses one frame at a time, and pages are decoded by query
    threads and the store's tick thread at once: one per thread."""

    def __init__(self) -> None:
        self.decompressor = zstandard.ZstdDecompressor()


_CODEC = _Codec()


class PageFormatError(ValueError):
    """A page whose bytes do not decode."""


# What decoding a page's bytes raises when they are damaged: turned into PageFormatError.
UNDECODABLE = (ValueError, struct.error, zstandard.ZstdError, orjson.JSONDecodeError, IndexError)


def trace_order(spans: Spans) -> npt.NDArray[np.intp]:
    """Rows by trace id (byte order), then start."""
    words = spans.trace_id_words()
    return np.lexsort((spans.start_ns, words[:, 1], words[:, 0]))


def trace_keys(spans: Spans) -> npt.NDArray[Any]:
    """Trace ids as an S16 array: numpy compares them in byte order."""
    return np.frombuffer(spans.trace_ids, dtype="S16")


def remap(
    columns: Sequence[npt.NDArray[np.int32]],
) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.uint32]]]:
    """The codes used by `columns` (sorted) and the columns recoded to their positions."""
    used = sorted_set(np.concatenate(columns)) if len(columns[0]) else np.zeros(0, np.int64)
    lut = np.zeros(int(used[-1]) + 1 if len(used) else 1, dtype=np.uint32)
    lut[used] = np.arange(len(used), dtype=np.uint32)
    return used.astype(np.int64), [lut[c] for c in columns]


def trace_runs(
    keys: npt.NDArray[np.void],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """Of spans sorted by trace: each trace's first row, its span count, and each span's
    trace (0, 1, ...)."""
    n = len(keys)
    first = (
        np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        if n
        else np.zeros(0, np.intp)
    )
    runs = np.diff(np.append(first, n)).astype("<u4")
    return first, runs, np.repeat(np.arange(len(first)), runs)


def parent_refs(
    span_words: npt.NDArray[np.uint64],
    parent_words: npt.NDArray[np.uint64],
    group: npt.NDArray[np.int64],
) -> npt.NDArray[np.int32]:
    """Per row: 0 for a root, `row - parent row` when the parent is in the same trace of the
    page, else EXTERNAL. Spans are found by (trace, span id) folded into one word; a
    collision only costs an external parent, never a wrong one (matches are checked)."""
    n = len(span_words)
    mixed = group.astype(np.uint64) * _MIX
    keys = span_words ^ mixed
    order = np.argsort(keys, kind="stable")
    at = np.searchsorted(keys[order], parent_words ^ mixed)
    at = np.minimum(at, max(n - 1, 0))
    rows = order[at] if n else np.zeros(0, np.intp)
    found = (group[rows] == group) & (span_words[rows] == parent_words) if n else np.zeros(0, bool)
    refs = np.full(n, EXTERNAL, dtype=np.int64)
    refs[found] = np.arange(n)[found] - rows[found]
    refs[parent_words == 0] = 0
    refs[found & (refs == 0)] = EXTERNAL  # its own parent: keep it whole
    return refs.astype(np.int32)


def encode_page(spans: Spans, level: int = 3) -> bytes:
    """The spans (any order) as one page, sorted by trace id then start."""
    order = trace_order(spans)
    if not np.array_equal(order, np.arange(len(spans))):
        spans = spans.take(order)
    n = len(spans)
    keys = trace_keys(spans)
    first, runs, group = trace_runs(keys)
    base = int(spans.start_ns.min()) if n else 0
    starts = spans.start_ns
    deltas = np.empty(n, dtype="<i8")
    if n:
        deltas[1:] = starts[1:] - starts[:-1]
        deltas[first] = starts[first] - base
    span_words = spans.span_id_words().astype(np.uint64)
    parent_words = spans.parent_id_words().astype(np.uint64)
    refs = parent_refs(span_words, parent_words, group)
    external = np.frombuffer(spans.parent_ids, dtype="V8")[refs == EXTERNAL].tobytes()
    used, (service, name, message, state) = remap(
        [spans.service, spans.name, spans.status_message, spans.trace_state]
    )
    strings: Strings = {}
    for i in used.tolist():
        code(strings, spans.strings[i])
    used_resources, (resource,) = remap([spans.resource])
    used_scopes, (scope,) = remap([spans.scope])
    resources = [spans.resources[i] for i in used_resources.tolist()]
    scopes = [spans.scopes[i] for i in used_scopes.tolist()]
    events = [e for per_span in spans.events for e in per_span]
    links = [link for per_span in spans.links for link in per_span]
    event_counts = np.fromiter((len(e) for e in spans.events), dtype="<u4", count=n)
    event_starts = np.repeat(starts, event_counts)
    sections = [
        b"",
        keys[first].tobytes(),
        shuffled(runs),
        spans.span_ids,
        shuffled(refs.astype("<i4")),
        external,
        shuffled(deltas),
        shuffled(spans.duration_ns.astype("<i8")),
        (spans.kind.astype(np.uint8) | (spans.status_code.astype(np.uint8) << 4)).tobytes(),
        shuffled(np.concatenate([service, name, message, state, resource, scope]).astype("<u4")),
        encode_attributes([r.attributes for r in resources], strings),
        shuffled(
            np.array(
                [(code(strings, s.name), code(strings, s.version)) for s in scopes], dtype="<u4"
            ).reshape(-1)
        ),
        encode_attributes([s.attributes for s in scopes], strings),
        encode_attributes(spans.attributes, strings),
        shuffled(event_counts),
        shuffled(
            np.fromiter((e.time_ns for e in events), dtype="<i8", count=len(events)) - event_starts
        ),
        shuffled(
            np.fromiter((code(strings, e.name) for e in events), dtype="<u4", count=len(events))
        ),
        encode_attributes([e.attributes for e in events], strings),
        shuffled(np.fromiter((len(ls) for ls in spans.links), dtype="<u4", count=n)),
        b"".join(link.trace_id for link in links),
        b"".join(link.span_id for link in links),
        shuffled(
            np.fromiter(
                (code(strings, link.trace_state) for link in links), dtype="<u4", count=len(links)
            )
        ),
        encode_attributes([link.attributes for link in links], strings),
    ]
    if any(
        len(link.trace_id) != TRACE_ID_SIZE or len(link.span_id) != SPAN_ID_SIZE for link in links
    ):
        raise ValueError("a link's ids are not 16 and 8 bytes")
    sections[0] = HEAD.pack(
        n, len(first), len(resources), len(scopes), len(events), len(links), base
    )
    sections.insert(10, orjson.dumps(list(strings)))
    body = pack(sections)
    return bytes((VERSION,)) + zstandard.ZstdCompressor(level=level).compress(body)


def decode_page(
    data: bytes | memoryview,
    rows: npt.NDArray[np.intp] | None = None,
    columns_only: bool = False,
    attributes: frozenset[str] | None = None,
) -> Spans:
    """The page's spans (those at `rows`, ascending, or all); `columns_only` leaves out
    attributes, events and links (what summaries and prefilters need is in the columns),
    `attributes` (unless None) every span attribute but those keys, and events and links.
    PageFormatError when its bytes do not decode."""
    try:
        return _decode(data, rows, columns_only or attributes == frozenset(), attributes)
    except UNDECODABLE as err:
        raise PageFormatError(str(err)) from None


class PageColumns:
    """What a prefilter reads of all a page's spans, each column decoded when first read
    (and kept for decoding the spans it keeps): starts, durations, status codes, and
    service and name codes into `strings`."""

    def __init__(self, parts: list[memoryview]) -> None:
        self._parts = parts
        self.spans, self._traces = HEAD.unpack(parts[0])[:2]

    @cached_property
    def runs(self) -> npt.NDArray[np.int64]:
        """Spans per trace."""
        runs = unshuffled(self._parts[2], "<u4", self._traces).astype(np.int64)
        if int(runs.sum()) != self.spans:
            raise ValueError("trace ids do not match the page's span count")
        return runs

    @cached_property
    def start_ns(self) -> npt.NDArray[np.int64]:
        base = HEAD.unpack(self._parts[0])[6]
        return starts_of(unshuffled(self._parts[6], "<i8", self.spans), self.runs, base)

    @cached_property
    def duration_ns(self) -> npt.NDArray[np.int64]:
        return unshuffled(self._parts[7], "<i8", self.spans).astype(np.int64)

    @cached_property
    def status_code(self) -> npt.NDArray[np.int8]:
        flags = np.frombuffer(self._parts[8], dtype=np.uint8, count=self.spans)
        return (flags >> 4).astype(np.int8)

    @cached_property
    def strings(self) -> list[str]:
        found: list[str] = orjson.loads(bytes(self._parts[10]))
        return found

    @cached_property
    def _names(self) -> npt.NDArray[np.int32]:
        n = self.spans
        codes = unshuffled(self._parts[9], "<u4", 6 * n, slice(0, 2 * n)).astype(np.int32)
        if len(codes) and int(codes.max()) >= len(self.strings):
            raise ValueError("a string code is past the page's string table")
        return codes

    @property
    def service(self) -> npt.NDArray[np.int32]:
        return self._names[: self.spans]

    @property
    def name(self) -> npt.NDArray[np.int32]:
        return self._names[self.spans :]


def decode_where(
    data: bytes | memoryview,
    keep: Callable[[PageColumns], npt.NDArray[np.bool_]],
    attributes: frozenset[str] | None = None,
) -> Spans:
    """The page's spans that `keep` accepts (as `decode_page` with `attributes`), the page
    unpacked once and the rest of their columns decoded for them only; PageFormatError when
    its bytes do not decode."""
    try:
        parts = page_sections(data)
        columns = PageColumns(parts)
        kept = keep(columns)
        if not kept.any():
            return Spans.empty()
        rows = None if kept.all() else np.flatnonzero(kept)
        return _decode_parts(parts, rows, attributes == frozenset(), attributes, columns)
    except UNDECODABLE as err:
        raise PageFormatError(str(err)) from None


def starts_of(
    deltas: npt.NDArray[np.int64], runs: npt.NDArray[np.int64], base: int
) -> npt.NDArray[np.int64]:
    """Starts from their deltas within each trace (a trace's first from the page's base)."""
    first = np.concatenate(([0], np.cumsum(runs)[:-1])) if len(runs) else np.zeros(0, np.int64)
    summed = np.cumsum(deltas)
    return np.asarray(base + summed - np.repeat(summed[first] - deltas[first], runs), np.int64)


def page_sections(data: bytes | memoryview) -> list[memoryview]:
    """The page's sections, decompressed (see `encode_page`)."""
    return unpack(_body(data), SECTIONS + 1)


def _body(data: bytes | memoryview) -> bytes:
    view = memoryview(data)
    if not len(view) or view[0] != VERSION:
        raise ValueError(f"page format {view[0] if len(view) else None} is not {VERSION}")
    return _CODEC.decompressor.decompress(view[1:])


def decode_trace_ids(data: bytes | memoryview) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """The page's trace ids (sorted unique, S16) and each one's first row, plus the end;
    PageFormatError when they do not decode."""
    try:
        return _trace_ids(data)
    except (ValueError, struct.error, zstandard.ZstdError) as err:
        raise PageFormatError(str(err)) from None


def _trace_ids(data: bytes | memoryview) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    return _ids(page_sections(data))


def _ids(parts: list[memoryview]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    n, traces = HEAD.unpack(parts[0])[:2]
    ids = np.frombuffer(parts[1], dtype="S16")
    runs = unshuffled(parts[2], "<u4", traces).astype(np.int64)
    if len(ids) != traces or int(runs.sum()) != n:
        raise ValueError("trace ids do not match the page's span count")
    return ids, np.concatenate(([0], np.cumsum(runs)))


def decode_trace(data: bytes | memoryview, trace_id: bytes) -> Spans:
    """The spans of one trace in the page (none when it holds none); PageFormatError when
    its bytes do not decode."""
    return decode_traces(data, [trace_id])[0]


def decode_traces(data: bytes | memoryview, trace_ids: Sequence[bytes]) -> list[Spans]:
    """The spans of each trace in the page (none when it holds none), the page unpacked
    once and their rows decoded together; PageFormatError when its bytes do not decode."""
    try:
        parts = page_sections(data)
        ids, bounds = _ids(parts)
        wanted = np.array(trace_ids, dtype="S16").reshape(-1)
        at = np.minimum(np.searchsorted(ids, wanted), max(len(ids) - 1, 0))
        found = ids[at] == wanted if len(ids) else np.zeros(len(wanted), dtype=bool)
        lo = np.where(found, bounds[at], 0) if len(ids) else np.zeros(len(wanted), np.int64)
        hi = np.where(found, bounds[at + 1], 0) if len(ids) else lo
        starts = sorted(set(lo[found].tolist()))
        rows = np.concatenate(
            [np.arange(a, int(bounds[np.searchsorted(bounds, a) + 1])) for a in starts]
            or [np.zeros(0, np.int64)]
        )
        spans = _decode_parts(parts, rows, False) if len(rows) else Spans.empty()
        offset = dict(zip(starts, np.searchsorted(rows, starts).tolist(), strict=True))
        return [
            spans.take(np.arange(offset[a], offset[a] + b - a)) if b > a else Spans.empty()
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
        ]
    except UNDECODABLE as err:
        raise PageFormatError(str(err)) from None


def _decode(
    data: bytes | memoryview,
    rows: npt.NDArray[np.intp] | None,
    columns_only: bool,
    keys: frozenset[str] | None,
) -> Spans:
    return _decode_parts(page_sections(data), rows, columns_only, keys)


def _decode_parts(
    parts: list[memoryview],
    rows: npt.NDArray[np.intp] | None,
    columns_only: bool,
    keys: frozenset[str] | None = None,
    columns: PageColumns | None = None,
) -> Spans:
    """The spans at `rows` (all when None); `columns` reuses what a prefilter decoded."""
    n, traces, n_resources, n_scopes, n_events, n_links, _ = HEAD.unpack(parts[0])
    if rows is not None and len(rows) and not (int(rows[0]) >= 0 and int(rows[-1]) < n):
        raise ValueError(f"rows {int(rows[0])}..{int(rows[-1])} of a page of {n} spans")
    columns = columns or PageColumns(parts)
    at: npt.NDArray[np.intp] = np.arange(n) if rows is None else rows
    sel: npt.NDArray[np.intp] | slice = slice(None) if rows is None else rows
    picked = len(at)
    ids = np.frombuffer(parts[1], dtype="V16")
    runs = columns.runs
    if len(ids) != traces or len(parts[3]) != SPAN_ID_SIZE * n:
        raise ValueError("trace or span ids do not match the page's span count")
    span_words = np.frombuffer(parts[3], dtype=">u8")
    all_refs = unshuffled(parts[4], "<i4", n).astype(np.int64)
    external = all_refs == EXTERNAL
    outside = np.frombuffer(parts[5], dtype=">u8", count=int(external.sum()))
    refs = all_refs[sel]
    parents = np.zeros(picked, dtype=">u8")
    internal = (refs != 0) & (refs != EXTERNAL)
    source = at[internal] - refs[internal]
    if len(source) and (int(source.min()) < 0 or int(source.max()) >= n):
        raise ValueError("a parent reference points outside the page")
    parents[internal] = span_words[source]
    mine = refs == EXTERNAL
    parents[mine] = outside[(np.cumsum(external) - 1)[at[mine]]]
    starts = columns.start_ns
    durations = columns.duration_ns[sel]
    flags = np.frombuffer(parts[8], dtype=np.uint8, count=n)[sel]
    code_at = None if rows is None else (rows + n * np.arange(6)[:, None]).reshape(-1)
    codes = unshuffled(parts[9], "<u4", 6 * n, code_at).astype(np.int32).reshape(6, -1)
    strings = columns.strings
    if codes.size and int(codes[:4].max()) >= len(strings):
        raise ValueError("a string code is past the page's string table")
    resource_attrs = decode_attributes(parts[11], n_resources, strings)
    scope_names = unshuffled(parts[12], "<u4", 2 * n_scopes).reshape(-1, 2).tolist()
    scope_attrs = decode_attributes(parts[13], n_scopes, strings)
    if codes.size and (int(codes[4].max()) >= n_resources or int(codes[5].max()) >= n_scopes):
        raise ValueError("a resource or scope code is past the page's tables")
    if columns_only or keys is not None:
        events: tuple[tuple[Event, ...], ...] = (_NO_EVENTS,) * picked
        links: tuple[tuple[Link, ...], ...] = (_NO_LINKS,) * picked
        attributes: Sequence[Attributes] = ((),) * picked
        if not columns_only and keys is not None:
            wanted = [i for i, s in enumerate(strings) if s in keys]
            attributes = decode_attributes(parts[14], n, strings, rows, wanted)
    else:
        attributes = decode_attributes(parts[14], n, strings, rows)
        event_counts = unshuffled(parts[15], "<u4", n).astype(np.int64)
        events = _events(parts, event_counts, starts, strings, n_events, rows)
        link_counts = unshuffled(parts[19], "<u4", n).astype(np.int64)
        links = _links(parts, link_counts, strings, n_links, rows)
    return Spans(
        trace_ids=(
            np.repeat(ids, runs)
            if rows is None
            else ids[np.searchsorted(np.cumsum(runs), rows, "right")]
        ).tobytes(),
        span_ids=np.frombuffer(parts[3], dtype="V8")[sel].tobytes(),
        parent_ids=parents.tobytes(),
        start_ns=starts[sel].astype(np.int64),
        duration_ns=durations.astype(np.int64),
        kind=(flags & 0x0F).astype(np.int8),
        status_code=(flags >> 4).astype(np.int8),
        service=codes[0],
        name=codes[1],
        status_message=codes[2],
        trace_state=codes[3],
        resource=codes[4],
        scope=codes[5],
        strings=tuple(strings),
        resources=tuple(Resource(a) for a in resource_attrs),
        scopes=tuple(
            Scope(strings[name], strings[version], attrs)
            for (name, version), attrs in zip(scope_names, scope_attrs, strict=True)
        ),
        attributes=tuple(attributes),
        events=events,
        links=links,
    )


def _events(
    parts: list[memoryview],
    counts: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    strings: list[str],
    total: int,
    rows: npt.NDArray[np.intp] | None,
) -> tuple[tuple[Event, ...], ...]:
    if int(counts.sum()) != total:
        raise ValueError("event counts do not add up")
    items, mine = spread(counts, rows)
    if not int(mine.sum()):
        return (_NO_EVENTS,) * len(mine)
    sel: npt.NDArray[np.intp] | slice = slice(None) if items is None else items
    times = (unshuffled(parts[16], "<i8", total) + np.repeat(starts, counts))[sel].tolist()
    names = unshuffled(parts[17], "<u4", total)[sel].tolist()
    attrs = decode_attributes(parts[18], total, strings, items)
    made = [Event(t, strings[name], a) for t, name, a in zip(times, names, attrs, strict=True)]
    return _grouped(made, mine, _NO_EVENTS)


def _links(
    parts: list[memoryview],
    counts: npt.NDArray[np.int64],
    strings: list[str],
    total: int,
    rows: npt.NDArray[np.intp] | None,
) -> tuple[tuple[Link, ...], ...]:
    if int(counts.sum()) != total:
        raise ValueError("link counts do not add up")
    items, mine = spread(counts, rows)
    if not int(mine.sum()):
        return (_NO_LINKS,) * len(mine)
    if len(parts[20]) != TRACE_ID_SIZE * total or len(parts[21]) != SPAN_ID_SIZE * total:
        raise ValueError("link ids do not match the link count")
    sel: npt.NDArray[np.intp] | slice = slice(None) if items is None else items
    trace_ids = np.frombuffer(parts[20], dtype="V16")[sel].tolist()
    span_ids = np.frombuffer(parts[21], dtype="V8")[sel].tolist()
    states = unshuffled(parts[22], "<u4", total)[sel].tolist()
    attrs = decode_attributes(parts[23], total, strings, items)
    made = [
        Link(trace_id, span_id, a, strings[state])
        for trace_id, span_id, state, a in zip(trace_ids, span_ids, states, attrs, strict=True)
    ]
    return _grouped(made, mine, _NO_LINKS)


def _grouped(
    items: list[Any], counts: npt.NDArray[np.int64], empty: tuple[Any, ...]
) -> tuple[Any, ...]:
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    return tuple(tuple(items[a:b]) if a != b else empty for a, b in zip(starts, ends, strict=True))
