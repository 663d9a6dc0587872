"""Immutable span blocks: `<ULID>/` with `meta.json`, `index` (a summary per page: place,
CRC, span count, time range, (service, name, kind) triples with their longest duration and
whether one failed), `traces` (the trace lookup, see block_lookup: every (trace key, page)
pair, sorted; mapped and searched in place) and `spans` (the pages, see block_page). The
index says which lookup format a block has; blocks of either format are read.

A block is written into `<ULID>.tmp/`, `meta.json` last, and renamed, as the log store's
blocks are (`vigil.logs.block.publish_block`; a head block's WAL checkpoint is written
between the two). A page's CRC is checked on every read, so a flipped byte fails the reads
that need that page with CorruptSpanBlockError naming block and file, and nothing else; a
block whose meta, index or trace lookup cannot be read is left out at open, logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import shutil
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crc32c
import numpy as np
import numpy.typing as npt
import orjson

from vigil.logs.block import TMP, publish_block
from vigil.traces._api import Spans
from vigil.traces.block_columns import NameKey, Summary
from vigil.traces.block_lookup import LookupWriter, TraceLookup
from vigil.traces.block_page import (
    PageColumns,
    PageFormatError,
    decode_page,
    decode_trace_ids,
    decode_traces,
    decode_where,
)
from vigil.traces.page_table import PageTable
from vigil.tsdb._api import CorruptDataError
from vigil.tsdb.block import new_ulid
from vigil.tsdb.fileutil import fsync_dir, write_synced

log = logging.getLogger(__name__)

META_FILE = "meta.json"
INDEX_FILE = "index"
TRACES_FILE = "traces"
SPANS_FILE = "spans"
VERSION = 2  # of meta and index: the index names its lookup's format
BLOCK_LEVEL = 9  # zstd level of block pages: written once, off the append path
_NO_IDS = np.zeros(0, dtype="S16")


class CorruptSpanBlockError(CorruptDataError):
    """A page whose bytes do not match their CRC or do not decode."""


@dataclass(frozen=True, slots=True)
class BlockMeta:
    """`sources`: the level-1 blocks this one holds (itself when cut from the head);
    `wal_checkpoint`: the checkpoint after which a head block's spans are in no WAL."""

    ulid: str
    mint: int
    maxt: int
    spans: int
    traces: int
    pages: int
    level: int
    sources: tuple[str, ...]
    wal_checkpoint: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "ulid": self.ulid,
            "mint_ns": self.mint,
            "maxt_ns": self.maxt,
            "stats": {"spans": self.spans, "traces": self.traces, "pages": self.pages},
            "compaction": {"level": self.level, "sources": list(self.sources)},
            "wal_checkpoint": self.wal_checkpoint,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BlockMeta:
        stats, compaction = doc["stats"], doc["compaction"]
        checkpoint = doc.get("wal_checkpoint")
        return cls(
            str(doc["ulid"]),
            int(doc["mint_ns"]),
            int(doc["maxt_ns"]),
            int(stats["spans"]),
            int(stats["traces"]),
            int(stats["pages"]),
            int(compaction["level"]),
            tuple(str(s) for s in compaction["sources"]),
            None if checkpoint is None else int(checkpoint),
        )


def read_meta(path: Path) -> BlockMeta:
    return BlockMeta.from_json(json.loads((path / META_FILE).read_text()))


@dataclass(frozen=True, slots=True)
class PageEntry:
    """A page's place in `spans` and its summary (without trace ids: `traces` has them)."""

    offset: int
    length: int
    crc: int
    summary: Summary

    def to_json(self) -> list[Any]:
        s = self.summary
        names = [[*key, longest, failed] for key, (longest, failed) in sorted(s.names.items())]
        return [self.offset, self.length, self.crc, s.spans, s.mint, s.maxt, names]

    @classmethod
    def from_json(cls, doc: list[Any]) -> PageEntry:
        offset, length, crc, spans, mint, maxt, names = doc
        keyed: dict[NameKey, tuple[int, bool]] = {
            (str(svc), str(name), int(kind)): (int(longest), bool(failed))
            for svc, name, kind, longest, failed in names
        }
        return cls(
            int(offset),
            int(length),
            int(crc),
            Summary(int(spans), int(mint), int(maxt), _NO_IDS, keyed),
        )


class BlockWriter:
    """Pages appended one at a time (each written at once), the index and meta at `finish`."""

    def __init__(self, parent: Path) -> None:
        self.ulid = new_ulid()
        self.tmp = parent / (self.ulid + TMP)
        self.tmp.mkdir(parents=True)
        self._out = (self.tmp / SPANS_FILE).open("wb")
        self._offset = 0
        self._pages: list[PageEntry] = []
        self._lookup = LookupWriter()

    def add(self, table: PageTable) -> None:
        """The spans as one page (sorted by trace id on the way)."""
        if len(table):
            self.copy(table.encode(BLOCK_LEVEL), table.summary())

    def copy(self, data: bytes, summary: Summary) -> None:
        """A page as encoded already (compaction: checked by its CRC, not re-encoded)."""
        self._out.write(data)
        entry = PageEntry(self._offset, len(data), crc32c.crc32c(data), summary)
        self._lookup.add(summary.trace_ids)
        self._pages.append(entry)
        self._offset += len(data)

    def finish(self, level: int, sources: Sequence[str], wal_checkpoint: int | None) -> Path:
        """The complete `.tmp` dir (see `publish_block`)."""
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        if not self._pages:
            raise ValueError("a block needs at least one span")
        lookup, about = self._lookup.finish()
        write_synced(self.tmp / TRACES_FILE, lookup)
        index = {
            "version": VERSION,
            **about,
            "traces_crc": crc32c.crc32c(lookup),
            "pages": [p.to_json() for p in self._pages],
        }
        write_synced(self.tmp / INDEX_FILE, orjson.dumps(index))
        summaries = [p.summary for p in self._pages]
        meta = BlockMeta(
            self.ulid,
            min(s.mint for s in summaries),
            max(s.maxt for s in summaries),
            sum(s.spans for s in summaries),
            self._lookup.traces(),
            len(self._pages),
            level,
            tuple(sources) or (self.ulid,),
            wal_checkpoint,
        )
        write_synced(self.tmp / META_FILE, json.dumps(meta.to_json(), indent=1).encode())
        fsync_dir(self.tmp)
        return self.tmp

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._out.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_block(
    parent: Path,
    batches: Iterable[PageTable],
    *,
    level: int = 1,
    sources: Sequence[str] = (),
    wal_checkpoint: int | None = None,
    publish: bool = True,
) -> Path:
    """Each batch as one page; returns the block's dir, or its complete `.tmp` dir when not
    `publish`."""
    writer = BlockWriter(parent)
    try:
        for batch in batches:
            writer.add(batch)
        tmp = writer.finish(level, sources, wal_checkpoint)
    except BaseException:
        writer.abort()
        raise
    return publish_block(tmp) if publish else tmp


def _map(path: Path) -> mmap.mmap | bytes:
    with path.open("rb") as handle:
        if not os.fstat(handle.fileno()).st_size:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _release(data: mmap.mmap | bytes) -> None:
    """Drop a mapping's pages from the server's resident memory once checked (they stay in
    the page cache): a block's whole lookup, read at open, is not counted in the process's
    RSS for as long as the block is open; a search touches a few of its pages again."""
    if isinstance(data, mmap.mmap):
        data.madvise(mmap.MADV_DONTNEED)


class SpansFile:
    """A block's `spans` file, read a page at a time with pread: what queries and
    compaction read stays in the page cache, not mapped into the server's memory. Closed
    when the last page holding it goes."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        weakref.finalize(self, self._file.close)

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._file.fileno(), length, offset)


@dataclass(frozen=True, slots=True)
class BlockPage:
    """A page in a block's `spans` file, checked against its CRC at every read."""

    block: Path
    data_file: SpansFile
    entry: PageEntry

    @property
    def summary(self) -> Summary:
        return self.entry.summary

    def load(self) -> bytes:
        e = self.entry
        data = self.data_file.read(e.offset, e.length)
        # Held through the check (microseconds): a handoff of the GIL costs a reader more.
        if len(data) != e.length or crc32c.crc32c(data, gil_release_mode=0) != e.crc:
            raise CorruptSpanBlockError(
                f"corrupt span block {self.block.name}: {self._where()} fails its CRC"
            )
        return data

    def _where(self) -> str:
        return f"page at offset {self.entry.offset} of {self.block / SPANS_FILE}"

    def spans(
        self,
        columns_only: bool = False,
        rows: npt.NDArray[np.intp] | None = None,
        attributes: frozenset[str] | None = None,
    ) -> Spans:
        data = self.load()
        try:
            return decode_page(data, rows, columns_only, attributes)
        except PageFormatError as err:
            raise CorruptSpanBlockError(
                f"corrupt span block {self.block.name}: {self._where()} does not decode: {err}"
            ) from None

    def trace_ids(self, data: bytes) -> npt.NDArray[Any]:
        """The page's trace ids (sorted, S16), from its loaded bytes."""
        try:
            return decode_trace_ids(data)[0]
        except PageFormatError as err:
            raise CorruptSpanBlockError(
                f"corrupt span block {self.block.name}: {self._where()} does not decode: {err}"
            ) from None

    def spans_where(
        self,
        keep: Callable[[PageColumns], npt.NDArray[np.bool_]],
        attributes: frozenset[str] | None = None,
    ) -> Spans:
        data = self.load()
        try:
            return decode_where(data, keep, attributes)
        except PageFormatError as err:
            raise CorruptSpanBlockError(
                f"corrupt span block {self.block.name}: {self._where()} does not decode: {err}"
            ) from None

    def traces(self, trace_ids: Sequence[bytes]) -> list[Spans]:
        data = self.load()
        try:
            return decode_traces(data, trace_ids)
        except PageFormatError as err:
            raise CorruptSpanBlockError(
                f"corrupt span block {self.block.name}: {self._where()} does not decode: {err}"
            ) from None


class SpanBlock:
    """An open block: its page summaries in memory, its trace lookup mapped, its pages read
    from their file."""

    def __init__(
        self,
        path: Path,
        meta: BlockMeta,
        pages: list[PageEntry],
        index: dict[str, Any],
    ) -> None:
        self.path = path
        self.meta = meta
        self._data = SpansFile(path / SPANS_FILE)
        data = _map(path / TRACES_FILE)
        if crc32c.crc32c(data) != int(index["traces_crc"]):
            raise CorruptDataError(f"span block {path}: {TRACES_FILE} fails its CRC")
        try:
            self._lookup = TraceLookup(data, index, len(pages))
        except ValueError as err:
            raise CorruptDataError(f"span block {path}: {TRACES_FILE}: {err}") from None
        _release(data)
        self.pages = [BlockPage(path, self._data, p) for p in pages]
        self.size_bytes = sum(
            (path / name).stat().st_size
            for name in (META_FILE, INDEX_FILE, TRACES_FILE, SPANS_FILE)
        )

    @classmethod
    def open(cls, path: Path) -> SpanBlock:
        """CorruptDataError naming the block when its meta, index or lookup cannot be read."""
        try:
            meta = read_meta(path)
            index = orjson.loads((path / INDEX_FILE).read_bytes())
            pages = [PageEntry.from_json(p) for p in index["pages"]]
            return cls(path, meta, pages, index)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CorruptDataError(f"span block {path} cannot be opened: {err}") from None

    def overlaps(self, mint: int, maxt: int) -> bool:
        return self.meta.mint <= maxt and self.meta.maxt >= mint

    def trace_pages(self, trace_id: bytes) -> list[BlockPage]:
        return [self.pages[i] for i in self._lookup.pages(trace_id)]
