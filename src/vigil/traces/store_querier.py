"""The span store's `SpanQuerier`: pages from every part of the store (blocks, then the
head) that may hold spans in range, skipped by their summaries where the hints allow, read
a page at a time. A trace by id holds each span id once, as Tempo answers: an exporter's
retry of an export whose answer it lost is stored twice and shown once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Protocol

import numpy as np
import numpy.typing as npt

from vigil.traces._api import STATUS_ERROR, TRACE_ID_SIZE, SpanHints, Spans
from vigil.traces.block_columns import NameKey, Summary
from vigil.traces.block_page import PageColumns

_ALL = SpanHints()


class PageRef(Protocol):
    """A page of the head or of a block."""

    @property
    def summary(self) -> Summary: ...

    def spans(
        self,
        columns_only: bool = False,
        rows: npt.NDArray[np.intp] | None = None,
        attributes: frozenset[str] | None = None,
    ) -> Spans:
        """All the page's spans, or those at `rows` (ascending); see `decode_page` for
        `columns_only` and `attributes`."""
        ...

    def spans_where(
        self,
        keep: Callable[[PageColumns], npt.NDArray[np.bool_]],
        attributes: frozenset[str] | None = None,
    ) -> Spans:
        """The page's spans that `keep` accepts (see `decode_where`)."""
        ...

    def traces(self, trace_ids: Sequence[bytes]) -> list[Spans]:
        """The page's spans of each trace (none when it holds none)."""
        ...


PageSource = Callable[[int, int], Sequence[PageRef]]
"""Pages that may hold spans starting in [mint, maxt]."""
TraceSource = Callable[[bytes, int, int], Sequence[PageRef]]
"""Pages that may hold spans of a trace starting in [mint, maxt]."""


def _kept(
    spans: PageColumns, span: tuple[int, int] | None, hints: SpanHints
) -> npt.NDArray[np.bool_]:
    """The spans starting in `span` (None: the whole page is in range) within the hints."""
    if span is None:
        keep = np.ones(spans.spans, dtype=bool)
    else:
        start = spans.start_ns
        keep = (start >= span[0]) & (start <= span[1])
    if hints.min_duration_ns is not None:
        keep &= spans.duration_ns >= hints.min_duration_ns
    if hints.max_duration_ns is not None:
        keep &= spans.duration_ns <= hints.max_duration_ns
    if hints.error_only:
        keep &= spans.status_code == STATUS_ERROR
    for codes, wanted in ((spans.service, hints.services), (spans.name, hints.names)):
        if wanted:
            allowed = np.array([s in wanted for s in spans.strings], dtype=bool)
            keep &= allowed[codes] if len(allowed) else False
    return keep


class TraceStoreQuerier:
    def __init__(self, pages: PageSource, trace_pages: TraceSource, mint: int, maxt: int) -> None:
        self._pages = pages
        self._trace_pages = trace_pages
        self._mint, self._maxt = mint, maxt

    def trace(self, trace_id: bytes) -> Spans:
        return self.traces([trace_id])[0]

    def traces(self, trace_ids: Sequence[bytes]) -> list[Spans]:
        pages: dict[int, tuple[PageRef, list[bytes]]] = {}
        order: dict[bytes, list[int]] = {}
        for trace_id in dict.fromkeys(t for t in trace_ids if len(t) == TRACE_ID_SIZE):
            for page in self._trace_pages(trace_id, self._mint, self._maxt):
                pages.setdefault(id(page), (page, []))[1].append(trace_id)
                order.setdefault(trace_id, []).append(id(page))
        read: dict[tuple[int, bytes], Spans] = {}
        for key, (page, ids) in pages.items():
            for trace_id, spans in zip(ids, page.traces(ids), strict=True):
                read[key, trace_id] = spans
        return [
            self._in_range(Spans.concat([read[p, t] for p in order.get(t, [])])) for t in trace_ids
        ]

    def _in_range(self, spans: Spans) -> Spans:
        """The spans in range, each span id once (the first stored), ascending by start."""
        keep = np.flatnonzero((spans.start_ns >= self._mint) & (spans.start_ns <= self._maxt))
        _, first = np.unique(spans.span_id_words()[keep], return_index=True)
        keep = keep[np.sort(first)]
        return spans.take(keep[np.argsort(spans.start_ns[keep], kind="stable")])

    def select(self, hints: SpanHints | None = None) -> Iterator[Spans]:
        wanted = hints if hints is not None else _ALL
        for page in self._pages(self._mint, self._maxt):
            if not page.summary.wanted(
                wanted.services, wanted.names, wanted.min_duration_ns, wanted.error_only
            ):
                continue
            summary = page.summary
            if wanted == _ALL and self._mint <= summary.mint and summary.maxt <= self._maxt:
                yield page.spans()
                continue
            inside = self._mint <= summary.mint and summary.maxt <= self._maxt
            span = None if inside else (self._mint, self._maxt)
            spans = page.spans_where(partial(_kept, span=span, hints=wanted), wanted.attributes)
            if len(spans):
                yield spans

    def _names(self) -> set[NameKey]:
        found: set[NameKey] = set()
        for page in self._pages(self._mint, self._maxt):
            summary = page.summary
            if self._mint <= summary.mint and summary.maxt <= self._maxt:
                found |= summary.names.keys()
                continue
            spans = page.spans(columns_only=True)
            keep = np.flatnonzero((spans.start_ns >= self._mint) & (spans.start_ns <= self._maxt))
            table = spans.strings
            found |= {
                (table[s], table[n], k)
                for s, n, k in zip(
                    spans.service[keep].tolist(),
                    spans.name[keep].tolist(),
                    spans.kind[keep].tolist(),
                    strict=True,
                )
            }
        return found

    def services(self) -> list[str]:
        return sorted({service for service, _, _ in self._names()})

    def span_names(self, service: str | None = None) -> list[tuple[str, int]]:
        return sorted({(name, kind) for s, name, kind in self._names() if service in (None, s)})

    def close(self) -> None:
        return None
