"""A span page held as its columns (see block_page for the format), so that the head's
pages are merged, split by window and cut into blocks with numpy over whole columns: no
Python object per span, attribute, event or link. Only a page's small tables (strings,
resources, scopes) are Python values. What it writes decodes as `encode_page`'s pages do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import zstandard

from vigil.model.sorted_set import sorted_set
from vigil.traces._api import SPAN_ID_SIZE, TRACE_ID_SIZE, Resource, Scope
from vigil.traces.block_attribute_columns import AttributeColumns
from vigil.traces.block_attributes import (
    Strings,
    code,
    decode_attributes,
    encode_attributes,
    pack,
    shuffled,
    spread,
    unshuffled,
)
from vigil.traces.block_columns import Summary, summary_of
from vigil.traces.block_page import (
    EXTERNAL,
    HEAD,
    UNDECODABLE,
    VERSION,
    PageColumns,
    PageFormatError,
    page_sections,
    parent_refs,
    remap,
    trace_runs,
)


@dataclass(frozen=True, slots=True)
class PageTable:
    """Spans as columns: per span its ids (trace ids as S16, span and parent ids as
    big-endian words, 0 for no parent), start, duration, kind | status << 4, and codes into
    `strings` (service, name, status message, trace state), `resources` and `scopes`; its
    attributes, events (time since the span's start, name code, attributes) and links
    (ids, trace state code, attributes), each owner's count first."""

    trace_ids: npt.NDArray[Any]
    span_ids: npt.NDArray[np.uint64]
    parent_ids: npt.NDArray[np.uint64]
    start_ns: npt.NDArray[np.int64]
    duration_ns: npt.NDArray[np.int64]
    flags: npt.NDArray[np.uint8]
    names: npt.NDArray[np.int64]  # (4, n): service, name, status message, trace state
    resource: npt.NDArray[np.int64]
    scope: npt.NDArray[np.int64]
    strings: Sequence[str]
    resources: Sequence[Resource]
    scopes: Sequence[Scope]
    attributes: AttributeColumns
    event_counts: npt.NDArray[np.int64]
    event_times: npt.NDArray[np.int64]
    event_names: npt.NDArray[np.int64]
    event_attributes: AttributeColumns
    link_counts: npt.NDArray[np.int64]
    link_trace_ids: npt.NDArray[Any]  # S16
    link_span_ids: npt.NDArray[Any]  # S8
    link_states: npt.NDArray[np.int64]
    link_attributes: AttributeColumns

    def __len__(self) -> int:
        return len(self.start_ns)

    @classmethod
    def read(cls, data: bytes | memoryview) -> PageTable:
        """PageFormatError when the page's bytes do not decode."""
        try:
            return _read(page_sections(data))
        except UNDECODABLE as err:
            raise PageFormatError(str(err)) from None

    def summary(self) -> Summary:
        return summary_of(
            self.strings,
            self.trace_ids,
            self.start_ns,
            self.duration_ns,
            (self.flags & 0x0F).astype(np.int8),
            (self.flags >> 4).astype(np.int8),
            self.names[0],
            self.names[1],
        )

    def take(self, rows: npt.NDArray[np.intp]) -> PageTable:
        """The spans at `rows` (in that order); tables are kept whole."""
        events, event_counts = spread(self.event_counts, rows)
        links, link_counts = spread(self.link_counts, rows)
        assert events is not None and links is not None
        return PageTable(
            self.trace_ids[rows],
            self.span_ids[rows],
            self.parent_ids[rows],
            self.start_ns[rows],
            self.duration_ns[rows],
            self.flags[rows],
            self.names[:, rows],
            self.resource[rows],
            self.scope[rows],
            self.strings,
            self.resources,
            self.scopes,
            self.attributes.take(rows),
            event_counts,
            self.event_times[events],
            self.event_names[events],
            self.event_attributes.take(events),
            link_counts,
            self.link_trace_ids[links],
            self.link_span_ids[links],
            self.link_states[links],
            self.link_attributes.take(links),
        )

    @classmethod
    def concat(cls, tables: Sequence[PageTable]) -> PageTable:
        """All tables' spans in order, their small tables merged (equal entries once)."""
        if len(tables) == 1:
            return tables[0]
        strings: dict[str, int] = {}
        resources: dict[Resource, int] = {}
        scopes: dict[Scope, int] = {}
        names: list[npt.NDArray[np.int64]] = []
        resource: list[npt.NDArray[np.int64]] = []
        scope: list[npt.NDArray[np.int64]] = []
        event_names: list[npt.NDArray[np.int64]] = []
        states: list[npt.NDArray[np.int64]] = []
        attrs: list[AttributeColumns] = []
        event_attrs: list[AttributeColumns] = []
        link_attrs: list[AttributeColumns] = []
        for t in tables:
            codes = _coded(strings, t.strings)
            names.append(codes[t.names])
            resource.append(_coded(resources, t.resources)[t.resource])
            scope.append(_coded(scopes, t.scopes)[t.scope])
            attrs.append(t.attributes.recoded(codes))
            event_names.append(codes[t.event_names])
            event_attrs.append(t.event_attributes.recoded(codes))
            states.append(codes[t.link_states])
            link_attrs.append(t.link_attributes.recoded(codes))

        def joined(column: str) -> Any:
            return np.concatenate([getattr(t, column) for t in tables])

        return PageTable(
            joined("trace_ids"),
            joined("span_ids"),
            joined("parent_ids"),
            joined("start_ns"),
            joined("duration_ns"),
            joined("flags"),
            np.concatenate(names, axis=1),
            np.concatenate(resource),
            np.concatenate(scope),
            list(strings),
            list(resources),
            list(scopes),
            AttributeColumns.concat(attrs),
            joined("event_counts"),
            joined("event_times"),
            np.concatenate(event_names),
            AttributeColumns.concat(event_attrs),
            joined("link_counts"),
            joined("link_trace_ids"),
            joined("link_span_ids"),
            np.concatenate(states),
            AttributeColumns.concat(link_attrs),
        )

    def encode(self, level: int = 3) -> bytes:
        """The spans as one page, sorted by trace id then start; its tables keep only what
        the spans use."""
        words = self.trace_ids.view(">u8").reshape(-1, 2)
        order = np.lexsort((self.start_ns, words[:, 1], words[:, 0]))
        t = self if np.array_equal(order, np.arange(len(self))) else self.take(order)
        return _encode(t, level)


def _coded(table: dict[Any, int], values: Sequence[Any]) -> npt.NDArray[np.int64]:
    """Each value's code in `table` (new ones added), as a lookup array."""
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)


def _read(parts: list[memoryview]) -> PageTable:
    n, traces, n_resources, n_scopes, n_events, n_links, _ = HEAD.unpack(parts[0])
    columns = PageColumns(parts)
    ids = np.frombuffer(parts[1], dtype="S16")
    if len(ids) != traces or len(parts[3]) != SPAN_ID_SIZE * n:
        raise ValueError("trace or span ids do not match the page's span count")
    span_ids = np.frombuffer(parts[3], dtype=">u8")
    refs = unshuffled(parts[4], "<i4", n).astype(np.int64)
    external = refs == EXTERNAL
    parents = np.zeros(n, dtype=">u8")
    parents[external] = np.frombuffer(parts[5], dtype=">u8", count=int(external.sum()))
    internal = (refs != 0) & ~external
    source = np.flatnonzero(internal) - refs[internal]
    if len(source) and (int(source.min()) < 0 or int(source.max()) >= n):
        raise ValueError("a parent reference points outside the page")
    parents[internal] = span_ids[source]
    strings = columns.strings
    codes = unshuffled(parts[9], "<u4", 6 * n).astype(np.int64).reshape(6, -1)
    if codes.size and int(codes[:4].max()) >= len(strings):
        raise ValueError("a string code is past the page's string table")
    if codes.size and (int(codes[4].max()) >= n_resources or int(codes[5].max()) >= n_scopes):
        raise ValueError("a resource or scope code is past the page's tables")
    scope_names = unshuffled(parts[12], "<u4", 2 * n_scopes).reshape(-1, 2).tolist()
    scope_attrs = decode_attributes(parts[13], n_scopes, strings)
    event_counts = unshuffled(parts[15], "<u4", n).astype(np.int64)
    link_counts = unshuffled(parts[19], "<u4", n).astype(np.int64)
    if int(event_counts.sum()) != n_events or int(link_counts.sum()) != n_links:
        raise ValueError("event or link counts do not add up")
    if len(parts[20]) != TRACE_ID_SIZE * n_links or len(parts[21]) != SPAN_ID_SIZE * n_links:
        raise ValueError("link ids do not match the link count")
    table = PageTable(
        np.repeat(ids, columns.runs),
        span_ids,
        parents,
        columns.start_ns,
        columns.duration_ns,
        np.frombuffer(parts[8], dtype=np.uint8, count=n),
        codes[:4],
        codes[4],
        codes[5],
        strings,
        [Resource(a) for a in decode_attributes(parts[11], n_resources, strings)],
        [
            Scope(strings[name], strings[version], attrs)
            for (name, version), attrs in zip(scope_names, scope_attrs, strict=True)
        ],
        AttributeColumns.read(parts[14], n),
        event_counts,
        unshuffled(parts[16], "<i8", n_events).astype(np.int64),
        unshuffled(parts[17], "<u4", n_events).astype(np.int64),
        AttributeColumns.read(parts[18], n_events),
        link_counts,
        np.frombuffer(parts[20], dtype="S16"),
        np.frombuffer(parts[21], dtype="S8"),
        unshuffled(parts[22], "<u4", n_links).astype(np.int64),
        AttributeColumns.read(parts[23], n_links),
    )
    coded = [table.attributes.keys, table.event_names, table.event_attributes.keys]
    coded += [table.link_states, table.link_attributes.keys]
    if any(len(c) and int(c.max()) >= len(strings) for c in coded):
        raise ValueError("a string code is past the page's string table")
    return table


def _encode(t: PageTable, level: int) -> bytes:
    """`t`, sorted by trace id then start, as a page (the layout of `encode_page`)."""
    n = len(t)
    keys = t.trace_ids
    first, runs, group = trace_runs(keys)
    base = int(t.start_ns.min()) if n else 0
    deltas = np.empty(n, dtype="<i8")
    if n:
        deltas[1:] = t.start_ns[1:] - t.start_ns[:-1]
        deltas[first] = t.start_ns[first] - base
    span_words = t.span_ids.astype(np.uint64)
    parent_words = t.parent_ids.astype(np.uint64)
    refs = parent_refs(span_words, parent_words, group)
    external = t.parent_ids[refs == EXTERNAL].astype(">u8").tobytes()
    coded = [t.names.reshape(-1), t.attributes.keys, t.event_names, t.event_attributes.keys]
    coded += [t.link_states, t.link_attributes.keys]
    used = sorted_set(np.concatenate(coded)) if sum(map(len, coded)) else np.zeros(0, np.int64)
    strings: Strings = {}
    for i in used.tolist():
        code(strings, t.strings[i])
    codes = np.zeros(len(t.strings), dtype=np.int64)
    codes[used] = [strings[t.strings[i]] for i in used.tolist()]
    used_resources, (resource,) = remap([t.resource.astype(np.int32)])
    used_scopes, (scope,) = remap([t.scope.astype(np.int32)])
    resources = [t.resources[i] for i in used_resources.tolist()]
    scopes = [t.scopes[i] for i in used_scopes.tolist()]
    names = codes[t.names].reshape(-1)
    sections = [
        HEAD.pack(
            n, len(first), len(resources), len(scopes), len(t.event_names), len(t.link_states), base
        ),
        keys[first].tobytes(),
        shuffled(runs),
        t.span_ids.astype(">u8").tobytes(),
        shuffled(refs.astype("<i4")),
        external,
        shuffled(deltas),
        shuffled(t.duration_ns.astype("<i8")),
        t.flags.astype(np.uint8).tobytes(),
        shuffled(np.concatenate([names, resource, scope]).astype("<u4")),
        b"",
        encode_attributes([r.attributes for r in resources], strings),
        shuffled(
            np.array(
                [(code(strings, s.name), code(strings, s.version)) for s in scopes], dtype="<u4"
            ).reshape(-1)
        ),
        encode_attributes([s.attributes for s in scopes], strings),
        t.attributes.recoded(codes).encode(),
        shuffled(t.event_counts.astype("<u4")),
        shuffled(t.event_times.astype("<i8")),
        shuffled(codes[t.event_names].astype("<u4")),
        t.event_attributes.recoded(codes).encode(),
        shuffled(t.link_counts.astype("<u4")),
        t.link_trace_ids.astype("S16").tobytes(),
        t.link_span_ids.astype("S8").tobytes(),
        shuffled(codes[t.link_states].astype("<u4")),
        t.link_attributes.recoded(codes).encode(),
    ]
    sections[10] = orjson.dumps(list(strings))
    return bytes((VERSION,)) + zstandard.ZstdCompressor(level=level).compress(pack(sections))
