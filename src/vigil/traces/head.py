"""The span head: recent spans as pages in memory (compressed, as the WAL holds them), with
each page's summary for readers.

An append is encoded into one page outside the lock, then logged to the WAL and added under
it, so a failed WAL write adds nothing. Small pages (exporters send a few spans at a time)
are merged by `merge_small_pages`, run by the store's tick; the WAL keeps them as they were.
`flush_before` takes the spans older than a cutoff out, for blocks.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.model.sorted_set import sorted_set
from vigil.traces._api import Spans
from vigil.traces.block_columns import Summary, summarize
from vigil.traces.block_lookup import folded_keys
from vigil.traces.block_page import (
    PageColumns,
    decode_page,
    decode_traces,
    decode_where,
    encode_page,
)
from vigil.traces.page_table import PageTable
from vigil.traces.wal import encode_spans_record
from vigil.tsdb.wlog import WAL

HOUR_NS = 3600 * 10**9
APPEND_LEVEL = 1  # zstd level of an append's page: the append waits for it
MERGE_LEVEL = 3  # of pages the tick merges or splits: smaller, off the append path
_NO_IDS = np.zeros(0, dtype="S16")


@dataclass(frozen=True, slots=True)
class HeadOptions:
    """Pages under `page_spans` are merged up to it; spans starting before now minus
    `out_of_order_window_ns` (rounded down to the block range) leave the head for blocks."""

    page_spans: int = 4096
    out_of_order_window_ns: int = HOUR_NS


@dataclass(frozen=True, slots=True)
class HeadPage:
    """A page's bytes and summary; the summary's trace ids are kept as their 8-byte lookup
    keys (`keys`), which say whether the page may hold a trace (the page checks the id)."""

    data: bytes
    summary: Summary
    keys: npt.NDArray[np.uint64]

    @classmethod
    def of(cls, spans: Spans, level: int = MERGE_LEVEL) -> HeadPage:
        return cls._keyed(encode_page(spans, level), summarize(spans))

    @classmethod
    def of_table(cls, table: PageTable) -> HeadPage:
        return cls._keyed(table.encode(MERGE_LEVEL), table.summary())

    @classmethod
    def decoded(cls, data: bytes) -> HeadPage:
        return cls._keyed(data, summarize(decode_page(data, columns_only=True)))

    @classmethod
    def _keyed(cls, data: bytes, summary: Summary) -> HeadPage:
        keys = folded_keys(summary.trace_ids)
        return cls(data, dataclasses.replace(summary, trace_ids=_NO_IDS), keys)

    def spans(
        self,
        columns_only: bool = False,
        rows: npt.NDArray[np.intp] | None = None,
        attributes: frozenset[str] | None = None,
    ) -> Spans:
        return decode_page(self.data, rows, columns_only, attributes)

    def table(self) -> PageTable:
        return PageTable.read(self.data)

    def spans_where(
        self,
        keep: Callable[[PageColumns], npt.NDArray[np.bool_]],
        attributes: frozenset[str] | None = None,
    ) -> Spans:
        return decode_where(self.data, keep, attributes)

    def traces(self, trace_ids: Sequence[bytes]) -> list[Spans]:
        return decode_traces(self.data, trace_ids)

    def may_hold(self, trace_id: bytes) -> bool:
        key = folded_keys(np.array([trace_id], dtype="S16"))[0]
        at = int(np.searchsorted(self.keys, key))
        return at < len(self.keys) and self.keys[at] == key


class Head:
    def __init__(self, options: HeadOptions | None = None) -> None:
        self.options = options or HeadOptions()
        self.wal: WAL | None = None
        self._lock = threading.Lock()
        self._pages: list[HeadPage] = []

    @property
    def pages(self) -> list[HeadPage]:
        """A snapshot, oldest first."""
        with self._lock:
            return list(self._pages)

    def num_spans(self) -> int:
        with self._lock:
            return sum(p.summary.spans for p in self._pages)

    def num_pages(self) -> int:
        return len(self._pages)

    def append(self, spans: Spans) -> tuple[int, int]:
        """Log and add one append; returns the page's size and the WAL token to wait on
        (outside the lock). Raises the WAL's OSError, having added nothing."""
        page = HeadPage.of(spans, APPEND_LEVEL)
        with self._lock:
            token = 0
            if self.wal is not None:
                token = self.wal.log([encode_spans_record(page.data)])
            self._pages.append(page)
        return len(page.data), token

    def replay_page(self, data: bytes) -> None:
        """A WAL page (nothing is logged again)."""
        page = HeadPage.decoded(data)
        with self._lock:
            self._pages.append(page)

    def merge_small_pages(self) -> int:
        """Join runs of pages smaller than `page_spans` into pages up to it; returns how
        many pages went. Appends may go on meanwhile (only this and `flush_before`, both
        the store's maintenance, take pages out)."""
        target = self.options.page_spans
        runs: list[list[HeadPage]] = []
        run: list[HeadPage] = []
        for page in self.pages:
            if page.summary.spans >= target:
                run = []
                continue
            if run and sum(p.summary.spans for p in run) + page.summary.spans > target:
                run = []
            if not run:
                runs.append(run)
            run.append(page)
        merged = {
            id(r[0]): (r, HeadPage.of_table(PageTable.concat([p.table() for p in r])))
            for r in runs
            if len(r) > 1
        }
        if not merged:
            return 0
        with self._lock:
            kept: list[HeadPage] = []
            gone: set[int] = set()
            for page in self._pages:
                if id(page) in merged:
                    old, new = merged[id(page)]
                    gone |= {id(p) for p in old}
                    kept.append(new)
                elif id(page) not in gone:
                    kept.append(page)
            self._pages = kept
        return sum(len(r) - 1 for r, _ in merged.values())

    def flush_before(
        self, cutoff: int, block_range: int, cut_wal: Callable[[], int]
    ) -> tuple[dict[int, list[HeadPage]], int, list[bytes]]:
        """Take every span starting before `cutoff` out of the head, as pages per
        `block_range` window (keyed by its start; a page holding spans of several windows,
        or of both sides of the cutoff, is split), then, still under the lock, cut the WAL's
        segment (`cut_wal`, its index returned) and snapshot what stays as checkpoint
        records. Nothing taken: nothing cut, ({}, -1, [])."""
        with self._lock:
            taken: dict[int, list[HeadPage]] = {}
            kept: list[HeadPage] = []
            for page in self._pages:
                summary = page.summary
                if summary.mint >= cutoff:
                    kept.append(page)
                    continue
                window = summary.mint // block_range * block_range
                if summary.maxt < min(cutoff, window + block_range):
                    taken.setdefault(window, []).append(page)
                    continue
                table = page.table()
                windows = table.start_ns // block_range * block_range
                windows[table.start_ns >= cutoff] = cutoff
                for start in sorted_set(windows).tolist():
                    part = HeadPage.of_table(table.take(np.flatnonzero(windows == start)))
                    (kept if start == cutoff else taken.setdefault(start, [])).append(part)
            if not taken:
                return {}, -1, []
            self._pages = kept
            return taken, cut_wal(), [encode_spans_record(p.data) for p in kept]
