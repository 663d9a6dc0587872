"""Immutable log blocks: `<ULID>/` with `meta.json`, `index` (streams and chunk entries,
see block_index), `chunks/000001` (the chunks' bytes) and, when some chunk's lines were
compressed with one, `dictionaries` (the zstd dictionaries the index's chunks name by
position; see logs.dictionaries). A block without that file has none.

A block is written into `<ULID>.tmp/`, `meta.json` last, and renamed. The rename is the
commit point, except for blocks cut from the head: the head's WAL checkpoint is written
between the two, and at open a complete `.tmp` block whose checkpoint exists is renamed
(its chunks are in no WAL any more), any other `.tmp` deleted (the WAL still holds them).
Chunk files are mapped; a chunk's CRC is checked on every read, so a flipped byte fails
the reads that need that chunk with CorruptChunkError naming block and file, and nothing else.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import shutil
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import crc32c
import numpy as np
import zstandard

from vigil.logs._api import Entries
from vigil.logs.block_index import FLAG_METADATA, I64, NO_DICTIONARY, BlockIndex
from vigil.logs.chunk import Chunk, ChunkFormatError
from vigil.logs.chunk_values import ChunkValues
from vigil.logs.metadata_column import MetadataColumn
from vigil.logs.stream_read import ReadableChunk
from vigil.model import Labels, Matcher
from vigil.tsdb._api import CorruptDataError
from vigil.tsdb.block import new_ulid
from vigil.tsdb.fileutil import fsync_dir, write_synced
from vigil.tsdb.postings import MemPostings, select_refs

log = logging.getLogger(__name__)
T = TypeVar("T")

META_FILE = "meta.json"
INDEX_FILE = "index"
CHUNKS_FILE = "chunks/000001"
DICTIONARIES_FILE = "dictionaries"
_DICTIONARIES_MAGIC = b"VLD1"
_DICTIONARIES_HEAD = struct.Struct("<4sII")  # magic, count, crc32c of what follows
_LENGTH = struct.Struct("<I")
TMP = ".tmp"
VERSION = 1


class CorruptChunkError(CorruptDataError):
    """A chunk whose bytes do not match their CRC or do not decode."""


@dataclass(frozen=True, slots=True)
class BlockMeta:
    """`sources`: the level-1 blocks this one holds (itself when cut from the head);
    `wal_checkpoint`: the checkpoint after which a head block's chunks are in no WAL."""

    ulid: str
    mint: int
    maxt: int
    streams: int
    chunks: int
    lines: int
    bytes: int
    level: int
    sources: tuple[str, ...]
    wal_checkpoint: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "ulid": self.ulid,
            "mint_ns": self.mint,
            "maxt_ns": self.maxt,
            "stats": {
                "streams": self.streams,
                "chunks": self.chunks,
                "lines": self.lines,
                "bytes": self.bytes,
            },
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
            int(stats["streams"]),
            int(stats["chunks"]),
            int(stats["lines"]),
            int(stats["bytes"]),
            int(compaction["level"]),
            tuple(str(s) for s in compaction["sources"]),
            None if checkpoint is None else int(checkpoint),
        )


StreamChunks = tuple[Labels, Iterable[Chunk]]


def write_block(
    parent: Path,
    streams: Iterable[StreamChunks],
    *,
    level: int = 1,
    sources: Sequence[str] = (),
    wal_checkpoint: int | None = None,
    publish: bool = True,
) -> Path:
    """Write `streams` (each stream once, its chunks in write order) as a block; returns its
    dir, or its complete `.tmp` dir when not `publish` (see `publish_block`)."""
    ulid = new_ulid()
    tmp = parent / (ulid + TMP)
    try:
        (tmp / "chunks").mkdir(parents=True)
        labels: list[Labels] = []
        rows: list[tuple[int, ...]] = []
        values: list[ChunkValues | None] = []
        dictionaries: dict[int, int] = {}  # id() of a chunk's dictionary: its position
        tables: list[zstandard.ZstdCompressionDict] = []
        offset = 0
        with (tmp / CHUNKS_FILE).open("wb") as out:
            for stream, chunks in sorted(streams, key=lambda item: item[0]):
                if labels and labels[-1] == stream:
                    raise ValueError(f"stream {stream} given twice")
                labels.append(stream)
                for c in chunks:
                    out.write(c.data)
                    crc = crc32c.crc32c(c.data)
                    dictionary = NO_DICTIONARY
                    if c.dictionary is not None:
                        dictionary = dictionaries.setdefault(id(c.dictionary), len(tables))
                        if dictionary == len(tables):
                            tables.append(c.dictionary)
                    rows.append(
                        (
                            len(labels) - 1,
                            c.mint,
                            c.maxt,
                            c.lines,
                            c.raw_bytes,
                            offset,
                            len(c.data),
                            crc,
                            FLAG_METADATA if c.has_metadata else 0,
                            dictionary,
                        )
                    )
                    values.append(c.with_values().values)
                    offset += len(c.data)
            out.flush()
            os.fsync(out.fileno())
        if not rows:
            raise ValueError("a block needs at least one chunk")
        index = BlockIndex.build(labels, rows, values)
        write_synced(tmp / INDEX_FILE, index.encode())
        if tables:
            write_synced(tmp / DICTIONARIES_FILE, _encode_dictionaries(tables))
        meta = BlockMeta(
            ulid,
            int(index.mint.min()),
            int(index.maxt.max()),
            len(labels),
            len(rows),
            int(index.lines.sum()),
            int(index.raw_bytes.sum()),
            level,
            tuple(sources) or (ulid,),
            wal_checkpoint,
        )
        fsync_dir(tmp / "chunks")
        write_synced(tmp / META_FILE, json.dumps(meta.to_json(), indent=1).encode())
        fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return publish_block(tmp) if publish else tmp


def _encode_dictionaries(tables: Sequence[zstandard.ZstdCompressionDict]) -> bytes:
    body = b"".join(_LENGTH.pack(len(d.as_bytes())) + d.as_bytes() for d in tables)
    return _DICTIONARIES_HEAD.pack(_DICTIONARIES_MAGIC, len(tables), crc32c.crc32c(body)) + body


def _decode_dictionaries(data: bytes) -> list[zstandard.ZstdCompressionDict]:
    """ValueError naming what is wrong when the bytes are not intact dictionaries."""
    if len(data) < _DICTIONARIES_HEAD.size:
        raise ValueError(f"dictionaries file of {len(data)} bytes has no header")
    magic, count, crc = _DICTIONARIES_HEAD.unpack_from(data)
    body = memoryview(data)[_DICTIONARIES_HEAD.size :]
    if magic != _DICTIONARIES_MAGIC or crc32c.crc32c(body) != crc:
        raise ValueError("dictionaries file fails its magic or checksum")
    tables, at = [], 0
    for _ in range(count):
        (length,) = _LENGTH.unpack_from(body, at)
        at += _LENGTH.size
        tables.append(zstandard.ZstdCompressionDict(bytes(body[at : at + length])))
        at += length
    if at != len(body):
        raise ValueError("dictionaries file holds more than its count says")
    return tables


def publish_block(tmp: Path) -> Path:
    """The commit point: rename a complete `.tmp` block to its ULID."""
    final = tmp.with_name(tmp.name.removesuffix(TMP))
    tmp.rename(final)
    fsync_dir(final.parent)
    return final


def read_meta(path: Path) -> BlockMeta:
    return BlockMeta.from_json(json.loads((path / META_FILE).read_text()))


@dataclass(frozen=True, slots=True)
class BlockChunk:
    """A chunk in a block's mapped file, checked against its CRC at every read."""

    block: Path
    data_file: mmap.mmap | bytes
    offset: int
    length: int
    crc: int
    mint: int
    maxt: int
    lines: int
    raw_bytes: int
    has_metadata: bool
    dictionary: zstandard.ZstdCompressionDict | None
    values: ChunkValues | None

    def load(self) -> Chunk:
        data = bytes(memoryview(self.data_file)[self.offset : self.offset + self.length])
        where = f"chunk at offset {self.offset} of {self.block / CHUNKS_FILE}"
        if len(data) != self.length or crc32c.crc32c(data) != self.crc:
            raise CorruptChunkError(f"corrupt log block {self.block.name}: {where} fails its CRC")
        return Chunk(
            self.mint, self.maxt, self.lines, self.raw_bytes, data, self.dictionary, self.values
        )

    def timestamps(self) -> I64:
        return _checked(self, lambda c: c.timestamps())

    def sizes(self) -> I64:
        return _checked(self, lambda c: c.sizes())

    def entries(self, labels: Labels, needles: Sequence[bytes] = ()) -> Entries | None:
        return _checked(self, lambda c: c.entries(labels, needles))

    def counted(self) -> tuple[I64, I64, MetadataColumn | None]:
        return _checked(self, lambda c: c.counted())


def _checked(chunk: BlockChunk, read: Callable[[Chunk], T]) -> T:
    loaded = chunk.load()
    try:
        return read(loaded)
    except ChunkFormatError as err:
        raise CorruptChunkError(
            f"corrupt log block {chunk.block.name}: chunk at offset {chunk.offset} of "
            f"{chunk.block / CHUNKS_FILE} does not decode: {err}"
        ) from None


def _map(path: Path) -> mmap.mmap | bytes:
    with path.open("rb") as handle:
        if not os.fstat(handle.fileno()).st_size:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


class LogBlock:
    """An open block: its index and postings in memory, its chunk file mapped."""

    def __init__(
        self,
        path: Path,
        meta: BlockMeta,
        index: BlockIndex,
        postings: list[tuple[str, str, I64]],
        dictionaries: Sequence[zstandard.ZstdCompressionDict] = (),
    ) -> None:
        self.path = path
        self.meta = meta
        self._index = index
        self._dictionaries = [None, *dictionaries]  # index column + 1
        self._data = _map(path / CHUNKS_FILE)
        self._postings = MemPostings.from_lists(postings)
        bounds = np.searchsorted(index.stream, np.arange(len(index.streams) + 1))
        self._bounds: list[int] = bounds.tolist()
        self._value_starts = index.value_starts()
        self._chunks: list[list[ReadableChunk] | None] = [None] * len(index.streams)
        self.size_bytes = sum(
            (path / name).stat().st_size
            for name in (META_FILE, INDEX_FILE, CHUNKS_FILE)
            + ((DICTIONARIES_FILE,) if dictionaries else ())
        )

    @classmethod
    def open(cls, path: Path) -> LogBlock:
        """CorruptDataError naming the block when its meta or index cannot be read."""
        try:
            meta = read_meta(path)
            index, postings = BlockIndex.decode((path / INDEX_FILE).read_bytes())
            dictionaries: list[zstandard.ZstdCompressionDict] = []
            if (path / DICTIONARIES_FILE).exists():
                dictionaries = _decode_dictionaries((path / DICTIONARIES_FILE).read_bytes())
            if int(index.dictionary.max(initial=NO_DICTIONARY)) >= len(dictionaries):
                raise ValueError("index names a dictionary the block does not have")
        except (OSError, ValueError, KeyError, TypeError, zstandard.ZstdError) as err:
            raise CorruptDataError(f"log block {path} cannot be opened: {err}") from None
        return cls(path, meta, index, postings, dictionaries)

    def chunks(self, stream: int) -> list[ReadableChunk]:
        """Built at the stream's first read and kept (a query of a day's chunks then makes no
        object per chunk)."""
        built = self._chunks[stream]
        if built is None:
            built = self._chunks[stream] = self._build_chunks(stream)
        return built

    def _build_chunks(self, stream: int) -> list[ReadableChunk]:
        index = self._index
        rows = slice(self._bounds[stream], self._bounds[stream + 1])
        columns = zip(
            index.offset[rows].tolist(),
            index.length[rows].tolist(),
            index.crc[rows].tolist(),
            index.mint[rows].tolist(),
            index.maxt[rows].tolist(),
            index.lines[rows].tolist(),
            index.raw_bytes[rows].tolist(),
            (index.flags[rows] & FLAG_METADATA).astype(bool).tolist(),
            [self._dictionaries[d + 1] for d in index.dictionary[rows].tolist()],
            [
                index.chunk_values(chunk, start)
                for chunk, start in zip(
                    range(rows.start, rows.stop),
                    self._value_starts[rows].tolist(),
                    strict=True,
                )
            ],
            strict=True,
        )
        return [BlockChunk(self.path, self._data, *row) for row in columns]

    def select(self, matchers: Sequence[Matcher]) -> list[tuple[Labels, list[ReadableChunk]]]:
        refs = select_refs(
            self._postings, matchers, lambda: np.arange(len(self._index.streams), dtype=np.int64)
        )
        return [(self._index.streams[ref], self.chunks(ref)) for ref in refs.tolist()]

    def streams(self) -> Iterator[tuple[Labels, Iterator[Chunk]]]:
        """Every stream with its chunks, each loaded (CRC-checked) only when its iterator
        reaches it: what compaction copies, one chunk at a time."""
        for ref, labels in enumerate(self._index.streams):
            yield labels, (c.load() for c in self.chunks(ref) if isinstance(c, BlockChunk))
