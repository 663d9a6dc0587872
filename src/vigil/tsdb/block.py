"""Immutable on-disk blocks: one directory per time window, written once and renamed atomically.

Layout of `<parent>/<ULID>/` (see DESIGN.md, storage):

- `meta.json` — versioned: ULID, inclusive [mint, maxt] in ms, stats, compaction level and
  the level-1 blocks it was built from.
- `index` — symbols table (every label name and value once, sorted), series (sorted by
  labels: label pairs as symbol ids, per-series time range and sample count, offset of
  its record in `chunks/`), and postings (for each label pair, the series that have it).
  Every table is a flat little-endian array, read in place through mmap.
- `chunks/000001` — one `encoding` record per series, back to back.
- `tombstones` — deleted (series, time range) intervals; written empty today, honoured by
  every read, so deletion can come later without a format change.

A block being written lives in `<ULID>.tmp-for-creation` and only appears under its ULID
once every file and the directory are fsynced; a block being deleted is first renamed to
`<ULID>.tmp-for-deletion`. Both leftovers are ignored by `open_blocks` and removed by
`remove_leftovers`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import mmap
import os
import shutil
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.ma  # np.unique imports it on first use (~60 ms): at start, not in a query
import numpy.typing as npt

from vigil.model import Labels, Matcher, MatchType
from vigil.tsdb._api import SelectHints
from vigil.tsdb.encoding import ChunkFormatError, Samples, decode, encode
from vigil.tsdb.fileutil import fsync_dir, write_synced
from vigil.tsdb.series import SeriesBatch, SeriesData

META_VERSION = 1
INDEX_VERSION = 1
TOMBSTONES_VERSION = 1
META_FILE = "meta.json"
INDEX_FILE = "index"
CHUNKS_FILE = "chunks/000001"
TOMBSTONES_FILE = "tombstones"
TMP_CREATION = ".tmp-for-creation"
TMP_DELETION = ".tmp-for-deletion"

_INDEX_MAGIC = b"VIGILIDX"
_INDEX_HEAD = struct.Struct("<8sII")  # magic, version, table-of-contents length
_TOMBSTONES_MAGIC = b"VIGILTMB"
_TOMBSTONES_HEAD = struct.Struct("<8sII")  # magic, version, count
_TOMBSTONE = np.dtype([("series", "<u4"), ("mint", "<i8"), ("maxt", "<i8")])
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_EMPTY_I64: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
_EMPTY_F64: npt.NDArray[np.float64] = np.empty(0, dtype=np.float64)


class CorruptBlockError(Exception):
    """A block that cannot be read as written; names the block directory and the file."""

    def __init__(self, block: Path, file: str, reason: str) -> None:
        super().__init__(f"corrupt block {block}: {file}: {reason}")
        self.block = block
        self.file = file
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BlockMeta:
    """What meta.json says about a block; mint and maxt are inclusive (ms)."""

    ulid: str
    mint: int
    maxt: int
    num_series: int
    num_samples: int
    level: int = 1
    sources: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": META_VERSION,
            "ulid": self.ulid,
            "mint_ms": self.mint,
            "maxt_ms": self.maxt,
            "stats": {"numSeries": self.num_series, "numSamples": self.num_samples},
            "compaction": {"level": self.level, "sources": list(self.sources)},
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BlockMeta:
        if doc.get("version") != META_VERSION:
            raise ValueError(f"meta.json version {doc.get('version')!r}, expected {META_VERSION}")
        return cls(
            ulid=str(doc["ulid"]),
            mint=int(doc["mint_ms"]),
            maxt=int(doc["maxt_ms"]),
            num_series=int(doc["stats"]["numSeries"]),
            num_samples=int(doc["stats"]["numSamples"]),
            level=int(doc["compaction"]["level"]),
            sources=tuple(str(s) for s in doc["compaction"]["sources"]),
        )


def new_ulid(now_ms: int | None = None) -> str:
    """A ULID: 48-bit ms timestamp + 80 random bits, Crockford base32; sorts by creation."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def is_ulid(name: str) -> bool:
    return len(name) == 26 and all(c in _CROCKFORD for c in name)


# ---------------------------------------------------------------- writing


def write_block(
    parent_dir: Path,
    series: Iterable[SeriesData],
    mint: int,
    maxt: int,
    *,
    level: int = 1,
    sources: Sequence[str] = (),
) -> Path:
    """Write a block of `series` (samples within inclusive [mint, maxt]); returns
    `parent_dir/<ULID>`. Series without samples are skipped; nothing is visible until the
    whole block is on disk. `level`/`sources` are compaction's (a new block is level 1)."""
    mint, maxt = int(mint), int(maxt)
    if maxt < mint:
        raise ValueError(f"block range [{mint}, {maxt}] is empty")
    parent_dir.mkdir(parents=True, exist_ok=True)
    ulid = new_ulid()
    tmp = parent_dir / (ulid + TMP_CREATION)
    final = parent_dir / ulid
    try:
        (tmp / "chunks").mkdir(parents=True)
        entries = _write_chunks(tmp / CHUNKS_FILE, series, mint, maxt)
        entries.sort(key=lambda e: e.labels)
        for before, after in itertools.pairwise(entries):
            if before.labels == after.labels:
                raise ValueError(f"series {after.labels} given twice")
        _write_index(tmp / INDEX_FILE, entries)
        write_synced(tmp / TOMBSTONES_FILE, _TOMBSTONES_HEAD.pack(_TOMBSTONES_MAGIC, 1, 0))
        meta = BlockMeta(
            ulid=ulid,
            mint=mint,
            maxt=maxt,
            num_series=len(entries),
            num_samples=sum(e.samples for e in entries),
            level=level,
            sources=tuple(sources) if sources else (ulid,),
        )
        write_synced(tmp / META_FILE, json.dumps(meta.to_json(), indent=2).encode() + b"\n")
        fsync_dir(tmp / "chunks")
        fsync_dir(tmp)
        _publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _publish(tmp: Path, final: Path) -> None:
    """The commit point: after this rename (and the parent's fsync) the block exists."""
    tmp.rename(final)
    fsync_dir(final.parent)


@dataclass(frozen=True, slots=True)
class _Entry:
    labels: Labels
    offset: int
    length: int
    mint: int
    maxt: int
    samples: int


def _write_chunks(path: Path, series: Iterable[SeriesData], mint: int, maxt: int) -> list[_Entry]:
    entries: list[_Entry] = []
    offset = 0
    with path.open("wb") as out:
        for s in series:
            n = len(s.timestamps)
            if n == 0:
                continue
            first, last = int(s.timestamps[0]), int(s.timestamps[-1])
            if first < mint or last > maxt:
                raise ValueError(
                    f"series {s.labels} has samples in [{first}, {last}], outside the block's "
                    f"[{mint}, {maxt}]"
                )
            if n > 1 and not (np.diff(s.timestamps) > 0).all():
                raise ValueError(f"series {s.labels}: timestamps are not strictly ascending")
            record = encode(s.timestamps, s.values)
            out.write(record)
            entries.append(_Entry(s.labels, offset, len(record), first, last, n))
            offset += len(record)
        out.flush()
        os.fsync(out.fileno())
    return entries


def _write_index(path: Path, entries: list[_Entry]) -> None:
    symbols = sorted({text for e in entries for pair in e.labels for text in pair})
    symbol_id = {text: i for i, text in enumerate(symbols)}
    encoded = [s.encode("utf-8") for s in symbols]
    symbol_offsets = np.zeros(len(encoded) + 1, dtype=np.uint64)
    np.cumsum([len(b) for b in encoded], out=symbol_offsets[1:])

    flat = [symbol_id[text] for e in entries for pair in e.labels for text in pair]
    pairs = np.array(flat, dtype=np.uint32).reshape(-1, 2)
    label_counts = np.array([len(e.labels) for e in entries], dtype=np.uint64)
    label_offsets = np.zeros(len(entries) + 1, dtype=np.uint64)
    np.cumsum(label_counts, out=label_offsets[1:])

    # postings: series ids grouped by (name, value), each group ascending
    owner = np.repeat(np.arange(len(entries), dtype=np.uint32), label_counts.astype(np.int64))
    key = pairs[:, 0].astype(np.int64) * max(len(symbols), 1) + pairs[:, 1]
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    pair_names = (keys // max(len(symbols), 1)).astype(np.uint32)
    pair_values = (keys % max(len(symbols), 1)).astype(np.uint32)
    names, name_starts = np.unique(pair_names, return_index=True)
    tables: dict[str, npt.NDArray[Any]] = {
        "symbol_offsets": symbol_offsets,
        "symbol_data": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "series_label_offsets": label_offsets,
        "series_labels": pairs.reshape(-1),
        "series_chunk_offsets": np.array([e.offset for e in entries], dtype=np.uint64),
        "series_chunk_lengths": np.array([e.length for e in entries], dtype=np.uint64),
        "series_mint": np.array([e.mint for e in entries], dtype=np.int64),
        "series_maxt": np.array([e.maxt for e in entries], dtype=np.int64),
        "series_samples": np.array([e.samples for e in entries], dtype=np.uint64),
        "label_names": names.astype(np.uint32),
        "label_value_offsets": np.append(name_starts, len(pair_values)).astype(np.uint64),
        "pair_values": pair_values,
        "postings_offsets": np.append(starts, len(order)).astype(np.uint64),
        "postings": owner[order],
    }
    toc: dict[str, list[Any]] = {}
    body: list[bytes] = []
    position = 0
    for name, table in tables.items():
        data = np.ascontiguousarray(table).tobytes()
        toc[name] = [position, table.dtype.str, len(table)]
        body.append(data + b"\0" * (-len(data) % 8))
        position += len(body[-1])
    toc_bytes = json.dumps({"tables": toc, "body_bytes": position}).encode()
    toc_bytes += b" " * (-(len(toc_bytes) + _INDEX_HEAD.size) % 8)
    head = _INDEX_HEAD.pack(_INDEX_MAGIC, INDEX_VERSION, len(toc_bytes)) + toc_bytes
    write_synced(path, head + b"".join(body))


# ---------------------------------------------------------------- reading


class Block:
    """A persisted block as a `Querier` over its own [mint, maxt]: the index and samples are
    read in place through mmap, so an open block costs little memory whatever its size."""

    def __init__(
        self,
        path: Path,
        meta: BlockMeta,
        index: _Index,
        tombstones: _Tombstones,
        cache: DecodedCache | None = None,
    ) -> None:
        self.path = path
        self.meta = meta
        self._index = index
        self._tombstones = tombstones
        self._cache = cache
        self.size_bytes = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        self._guard = threading.Lock()
        self._readers = 0
        self._retired = False
        self._finished = False
        self._doomed: Path | None = None

    @classmethod
    def open(cls, path: Path, cache: DecodedCache | None = None) -> Block:
        """Open a block directory; raises CorruptBlockError naming the file at fault. Queries
        keep the series they decode in `cache` (shared by a TSDB's blocks), if given."""
        path = Path(path)
        try:
            meta = BlockMeta.from_json(json.loads((path / META_FILE).read_text()))
        except FileNotFoundError:
            raise CorruptBlockError(path, META_FILE, "missing") from None
        except (ValueError, KeyError, TypeError) as err:
            raise CorruptBlockError(path, META_FILE, str(err)) from None
        index = _Index(path)
        try:
            tombstones = _Tombstones(path)
        except CorruptBlockError:
            index.close()
            raise
        return cls(path, meta, index, tombstones, cache)

    def __repr__(self) -> str:
        return f"Block({self.meta.ulid}, [{self.meta.mint}, {self.meta.maxt}])"

    def __enter__(self) -> Block:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.retire(delete=False)

    # Prometheus's pending-readers count: a TSDB querier holds every block it reads, so
    # compaction or retention running meanwhile never unmaps or deletes one under it.

    def acquire(self) -> None:
        """Count a reader; a retired block stays readable until its last reader releases it."""
        with self._guard:
            if self._finished:
                raise RuntimeError(f"{self!r} is closed")
            self._readers += 1

    def release(self) -> None:
        with self._guard:
            self._readers -= 1
            finish = self._retired and self._readers == 0
        if finish:
            self._finish()

    @property
    def readers(self) -> int:
        return self._readers

    def retire(self, delete: bool) -> None:
        """Close the block, and delete its directory if `delete`, once no reader holds it. A
        doomed directory is renamed aside at once (the mmaps stay valid), so a crash before
        the last reader leaves cannot bring it back: `remove_leftovers` deletes it."""
        with self._guard:
            if self._retired:
                return
            self._retired = True
            if delete:
                self._doomed = self.path.with_name(self.path.name + TMP_DELETION)
                self.path.rename(self._doomed)
            finish = self._readers == 0
        if delete:
            assert self._doomed is not None
            fsync_dir(self._doomed.parent)
        if finish:
            self._finish()

    def _finish(self) -> None:
        with self._guard:
            if self._finished:
                return
            self._finished = True
        self._index.close()
        if self._cache is not None:
            self._cache.forget(self.meta.ulid)
        if self._doomed is not None:
            shutil.rmtree(self._doomed)

    def querier(self, mint: int, maxt: int) -> BlockQuerier:
        """A Querier over this block limited to inclusive [mint, maxt]."""
        return BlockQuerier(self, mint, maxt)

    # Querier over the block's own range
    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[SeriesData]:
        return self.querier(self.meta.mint, self.meta.maxt).select(matchers, hints)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self.querier(self.meta.mint, self.meta.maxt).label_names(matchers)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self.querier(self.meta.mint, self.meta.maxt).label_values(name, matchers)

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return self.querier(self.meta.mint, self.meta.maxt).series(matchers)

    def label_pair_counts(self) -> list[tuple[str, str, int]]:
        """(name, value, number of series) for every label pair, read from the postings."""
        index = self._index
        counts = np.diff(index.postings_offsets.astype(np.int64)).tolist()
        value_offsets = index.label_value_offsets.tolist()
        out = []
        for slot, name_sym in enumerate(index.label_names.tolist()):
            name = index.symbol(name_sym)
            lo, hi = value_offsets[slot], value_offsets[slot + 1]
            for at, value_sym in enumerate(index.pair_values[lo:hi].tolist(), start=lo):
                out.append((name, index.symbol(value_sym), counts[at]))
        return out

    def all_series(self) -> Iterator[SeriesData]:
        """Every series with all its samples, in label order (what compaction merges)."""
        for sid in range(self._index.num_series):
            data = self._read(sid, self.meta.mint, self.meta.maxt, cached=False)
            if data is not None:
                yield data

    def _read(self, sid: int, mint: int, maxt: int, *, cached: bool = True) -> SeriesData | None:
        """Series `sid`'s samples in [mint, maxt]; `cached` reads go through the block's
        DecodedCache (compaction reads every series once, and would only evict hot ones)."""
        cache = self._cache if cached else None
        kept = None if cache is None else cache.get(self.meta.ulid, sid)
        if kept is not None:
            labels, samples = kept
        else:
            labels = self._index.labels(sid)
            try:
                samples = decode(self._index.record(sid))
            except ChunkFormatError as err:
                raise CorruptBlockError(self.path, CHUNKS_FILE, f"series {labels}: {err}") from None
            if cache is not None:
                cache.put(self.meta.ulid, sid, labels, samples)
        ts, vs = samples.timestamps, samples.values
        if len(ts) and (ts[0] < mint or ts[-1] > maxt):
            lo, hi = np.searchsorted(ts, [mint, maxt + 1])
            ts, vs = ts[lo:hi], vs[lo:hi]
        if self._tombstones.has(sid):
            keep = self._tombstones.keep_mask(sid, ts)
            ts, vs = ts[keep], vs[keep]
        if not len(ts):
            return None
        return SeriesData(labels, ts, vs)


class BlockQuerier:
    """Read access to one block over inclusive [mint, maxt], with Prometheus's matcher rules."""

    def __init__(self, block: Block, mint: int, maxt: int) -> None:
        self._block = block
        self._index = block._index
        self.mint = mint
        self.maxt = maxt

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[SeriesData]:
        ids = self._ids(matchers)
        if hints is not None and hints.series_only:
            for sid in ids.tolist():
                yield SeriesData(self._index.labels(sid), _EMPTY_I64, _EMPTY_F64)
            return
        for sid in ids.tolist():
            data = self._block._read(sid, self.mint, self.maxt)
            if data is not None:
                yield data

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        return SeriesBatch.of(list(self.select(matchers, hints)))

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        index = self._index
        if not matchers and self._covers_block():
            return [index.symbol(int(s)) for s in index.label_names]
        names = np.unique(index.pairs_of(self._ids(matchers))[:, 0])
        return [index.symbol(int(s)) for s in names]

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        index = self._index
        if not matchers and self._covers_block():
            lo, hi = index.value_range(name)
            return [index.symbol(int(s)) for s in index.pair_values[lo:hi]]
        name_id = index.symbol_id(name)
        if name_id is None:
            return []
        pairs = index.pairs_of(self._ids(matchers))
        values = np.unique(pairs[pairs[:, 0] == name_id, 1])
        return [index.symbol(int(s)) for s in values]

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return [self._index.labels(sid) for sid in self._ids(matchers).tolist()]

    def close(self) -> None:
        """The block stays open: it belongs to whoever opened it."""

    def _covers_block(self) -> bool:
        return self.mint <= self._block.meta.mint and self._block.meta.maxt <= self.maxt

    def _ids(self, matchers: Sequence[Matcher]) -> npt.NDArray[np.int64]:
        index = self._index
        ids = index.matching(matchers)
        if not self._covers_block():
            ids = ids[(index.series_mint[ids] <= self.maxt) & (index.series_maxt[ids] >= self.mint)]
        return ids


class _Index:
    """The index file's tables as numpy views over one read-only mmap."""

    def __init__(self, block: Path) -> None:
        self._block = block
        self._mm: mmap.mmap | None = None
        self._chunks: mmap.mmap | None = None
        self._symbols: _SymbolTable | None = None
        self._postings_cache = _PostingsCache(_POSTINGS_CACHE_BYTES)
        path = block / INDEX_FILE
        try:
            with path.open("rb") as f:
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise CorruptBlockError(block, INDEX_FILE, "missing") from None
        except ValueError:  # mmap of an empty file
            raise CorruptBlockError(block, INDEX_FILE, "empty") from None
        try:
            self._tables = self._read_tables(self._mm)
            self._open_chunks()
        except BaseException:
            self.close()
            raise

    def _read_tables(self, mm: mmap.mmap) -> dict[str, npt.NDArray[Any]]:
        fail = self._fail
        if len(mm) < _INDEX_HEAD.size:
            raise fail(INDEX_FILE, f"{len(mm)} bytes is shorter than the header")
        magic, version, toc_len = _INDEX_HEAD.unpack_from(mm, 0)
        if magic != _INDEX_MAGIC:
            raise fail(INDEX_FILE, "not a vigil index (bad magic)")
        if version != INDEX_VERSION:
            raise fail(INDEX_FILE, f"index version {version}, this vigil reads {INDEX_VERSION}")
        base = _INDEX_HEAD.size + toc_len
        try:
            toc = json.loads(mm[_INDEX_HEAD.size : base])
        except ValueError as err:
            raise fail(INDEX_FILE, f"unreadable table of contents: {err}") from None
        if len(mm) != base + toc["body_bytes"]:
            raise fail(
                INDEX_FILE, f"{len(mm)} bytes, expected {base + toc['body_bytes']} (truncated?)"
            )
        tables: dict[str, npt.NDArray[Any]] = {}
        for name, (offset, dtype, count) in toc["tables"].items():
            tables[name] = np.frombuffer(
                mm, dtype=np.dtype(dtype), count=count, offset=base + offset
            )
        self.symbol_offsets = tables["symbol_offsets"]
        self._symbol_base = base + toc["tables"]["symbol_data"][0]
        self.series_label_offsets = tables["series_label_offsets"]
        self.series_labels = tables["series_labels"]
        self.chunk_offsets = tables["series_chunk_offsets"]
        self.chunk_lengths = tables["series_chunk_lengths"]
        self.series_mint = tables["series_mint"]
        self.series_maxt = tables["series_maxt"]
        self.label_names = tables["label_names"]
        self.label_value_offsets = tables["label_value_offsets"]
        self.pair_values = tables["pair_values"]
        self.postings_offsets = tables["postings_offsets"]
        self.postings = tables["postings"]
        self.num_series = len(self.series_mint)
        self._name_slot = {self._decode_symbol(int(s)): i for i, s in enumerate(self.label_names)}
        return tables

    def _open_chunks(self) -> None:
        path = self._block / CHUNKS_FILE
        want = int(self.chunk_lengths.sum())
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise self._fail(CHUNKS_FILE, "missing") from None
        if size != want:
            raise self._fail(CHUNKS_FILE, f"{size} bytes, the index expects {want} (truncated?)")
        if size:
            with path.open("rb") as f:
                self._chunks = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def _fail(self, file: str, reason: str) -> CorruptBlockError:
        return CorruptBlockError(self._block, file, reason)

    def close(self) -> None:
        """Drop the views, then unmap (a mapping still viewed by a caller is left to GC)."""
        self._tables = {}
        for name in _TABLE_VIEWS:
            setattr(self, name, _EMPTY_I64)
        for mm in (self._mm, self._chunks):
            if mm is not None:
                with contextlib.suppress(BufferError):  # views still held by a caller
                    mm.close()
        self._mm = self._chunks = None
        self._symbols = None
        self._postings_cache.clear()

    def _decode_symbol(self, sid: int) -> str:
        assert self._mm is not None, "block is closed"
        base, offsets = self._symbol_base, self.symbol_offsets
        return self._mm[base + offsets.item(sid) : base + offsets.item(sid + 1)].decode("utf-8")

    def _symbol_table(self) -> _SymbolTable:
        """Every symbol decoded once, on first use: a block's symbols bound its size."""
        table = self._symbols
        if table is None:
            assert self._mm is not None, "block is closed"
            offsets = self.symbol_offsets.tolist()
            data = self._mm[self._symbol_base : self._symbol_base + offsets[-1]]
            texts = [data[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
            table = self._symbols = _SymbolTable(texts, {t: i for i, t in enumerate(texts)})
        return table

    def symbol(self, sid: int) -> str:
        return self._symbol_table().texts[sid]

    def symbol_id(self, text: str) -> int | None:
        return self._symbol_table().ids.get(text)

    def labels(self, sid: int) -> Labels:
        offsets = self.series_label_offsets
        syms = self.series_labels[2 * offsets.item(sid) : 2 * offsets.item(sid + 1)].tolist()
        texts = self._symbol_table().texts
        return Labels((texts[syms[i]], texts[syms[i + 1]]) for i in range(0, len(syms), 2))

    def record(self, sid: int) -> memoryview:
        assert self._chunks is not None, "block is closed or empty"
        offset = self.chunk_offsets.item(sid)
        return memoryview(self._chunks)[offset : offset + self.chunk_lengths.item(sid)]

    def value_range(self, name: str) -> tuple[int, int]:
        """The slice of `pair_values` holding the label's values (empty if absent)."""
        slot = self._name_slot.get(name)
        if slot is None:
            return 0, 0
        return self.label_value_offsets.item(slot), self.label_value_offsets.item(slot + 1)

    def pairs_of(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
        """The (name, value) symbol pairs of the given series, as rows."""
        starts = self.series_label_offsets[ids].astype(np.int64)
        counts = self.series_label_offsets[ids + 1].astype(np.int64) - starts
        rows = _ranges(starts, counts)
        return self.series_labels.reshape(-1, 2)[rows]

    def matching(self, matchers: Sequence[Matcher]) -> npt.NDArray[np.int64]:
        """Ids (ascending) of the series that satisfy every matcher: regexes anchored, and a
        matcher that matches the empty string also matches series without the label
        (Prometheus's rules). Postings of matchers that need a value are intersected; the
        others only take away series whose value fails them. Results, whole and per matcher,
        are kept in a bounded LRU (the index never changes); callers get read-only arrays."""
        key = ("all", frozenset(_matcher_key(m) for m in matchers))
        ids = self._postings_cache.get(key)
        if ids is None:
            ids = self._postings_cache.put(key, self._match_all(matchers))
        return ids

    def _match_all(self, matchers: Sequence[Matcher]) -> npt.NDArray[np.int64]:
        ids: npt.NDArray[np.int64] | None = None
        excluded: list[npt.NDArray[np.int64]] = []
        for m in sorted(matchers, key=lambda m: m.matches_empty()):
            if m.matches_empty():
                failing = self._series_of(m, want=False)
                if len(failing):
                    excluded.append(failing)
                continue
            hits = self._series_of(m, want=True)
            ids = hits if ids is None else np.intersect1d(ids, hits, assume_unique=True)
            if not len(ids):
                return ids
        if ids is None:
            ids = np.arange(self.num_series, dtype=np.int64)
        if excluded:
            failing = excluded[0] if len(excluded) == 1 else np.concatenate(excluded)
            ids = ids[~np.isin(ids, failing)]
        return ids

    def _series_of(self, m: Matcher, want: bool) -> npt.NDArray[np.int64]:
        """Ids (ascending, unique) of the series whose value of `m.name` matches (`want`) or
        fails `m`; series without the label are in neither."""
        key = (want, _matcher_key(m))
        ids = self._postings_cache.get(key)
        if ids is None:
            lo, hi = self.value_range(m.name)
            positions = self._positions(m, lo, hi, want)
            ids = self._postings(positions).astype(np.int64)
            if len(positions) > 1:
                ids = np.unique(ids)
            ids = self._postings_cache.put(key, ids)
        return ids

    def _positions(self, m: Matcher, lo: int, hi: int, want: bool) -> npt.NDArray[np.int64]:
        """Positions in `pair_values[lo:hi]` whose value matches (`want`) or not."""
        if lo == hi:
            return np.empty(0, dtype=np.int64)
        if m.type in (MatchType.EQUAL, MatchType.NOT_EQUAL):
            sym = self.symbol_id(m.value)
            hit = -1
            if sym is not None:
                at = lo + int(np.searchsorted(self.pair_values[lo:hi], sym))
                hit = at if at < hi and self.pair_values[at] == sym else -1
            equal: npt.NDArray[np.int64] = np.array([hit] if hit >= 0 else [], dtype=np.int64)
            if want == (m.type is MatchType.EQUAL):
                return equal
            rest = np.arange(lo, hi, dtype=np.int64)
            others: npt.NDArray[np.int64] = rest[rest != hit]
            return others
        texts = self._symbol_table().texts
        values = self.pair_values[lo:hi].tolist()
        found = [lo + i for i, s in enumerate(values) if m.matches(texts[s]) == want]
        return np.array(found, dtype=np.int64)

    def _postings(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
        starts = self.postings_offsets[positions].astype(np.int64)
        counts = self.postings_offsets[positions + 1].astype(np.int64) - starts
        return self.postings[_ranges(starts, counts)]


_TABLE_VIEWS = (
    "symbol_offsets",
    "series_label_offsets",
    "series_labels",
    "chunk_offsets",
    "chunk_lengths",
    "series_mint",
    "series_maxt",
    "label_names",
    "label_value_offsets",
    "pair_values",
    "postings_offsets",
    "postings",
)


@dataclass(frozen=True, slots=True)
class _SymbolTable:
    """A block's symbols decoded: id -> text (sorted) and text -> id."""

    texts: list[str]
    ids: dict[str, int]


_POSTINGS_CACHE_BYTES = 16 << 20  # per block: ~2M series ids
_LABEL_PAIR_BYTES = 80  # what a cached series' Labels cost per pair, roughly (tuples)


def _matcher_key(m: Matcher) -> tuple[Matcher, str | None]:
    """A matcher with its regex's source: matchers equal as values may compile differently."""
    regex = m._regex
    return m, None if regex is None else f"{regex.flags}:{regex.pattern}"


class _PostingsCache:
    """Series ids computed from an immutable index, least recently used dropped first once
    their arrays pass `max_bytes`; stored arrays are made read-only."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[object, npt.NDArray[np.int64]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> npt.NDArray[np.int64] | None:
        with self._lock:
            ids = self._entries.get(key)
            if ids is not None:
                self._entries.move_to_end(key)
            return ids

    def put(self, key: object, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        ids.flags.writeable = False
        if ids.nbytes > self._max_bytes:
            return ids
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = ids
            self._bytes += ids.nbytes
            while self._bytes > self._max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes
        return ids

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


@dataclass(frozen=True, slots=True)
class _Decoded:
    labels: Labels
    samples: Samples
    nbytes: int


class DecodedCache:
    """Decoded series (labels and samples) of persisted blocks, least recently used dropped
    first once they pass `max_bytes`. Blocks never change, so an entry is never stale: a
    dashboard's refresh (or its next panel on the same series) reads samples without zstd
    and numpy decoding. One per TSDB, shared by its blocks; stored arrays are read-only;
    thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[tuple[str, int], _Decoded] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, block: str, sid: int) -> tuple[Labels, Samples] | None:
        with self._lock:
            entry = self._entries.get((block, sid))
            if entry is None:
                return None
            self._entries.move_to_end((block, sid))
            return entry.labels, entry.samples

    def put(self, block: str, sid: int, labels: Labels, samples: Samples) -> None:
        size = samples.timestamps.nbytes + samples.values.nbytes + _LABEL_PAIR_BYTES * len(labels)
        if size > self.max_bytes:
            return
        samples.timestamps.flags.writeable = False
        samples.values.flags.writeable = False
        with self._lock:
            old = self._entries.pop((block, sid), None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[(block, sid)] = _Decoded(labels, samples, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes

    def forget(self, block: str) -> None:
        """Drop a closed block's entries (their memory, not correctness, is at stake)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == block]:
                self._bytes -= self._entries.pop(key).nbytes


def _ranges(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Concatenation of arange(s, s + c) for each (s, c), without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(counts)
    shift = np.repeat(starts - (ends - counts), counts)
    out: npt.NDArray[np.int64] = np.arange(total, dtype=np.int64) + shift
    return out


class _Tombstones:
    """Deleted (series, [mint, maxt]) intervals of a block."""

    def __init__(self, block: Path) -> None:
        path = block / TOMBSTONES_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptBlockError(block, TOMBSTONES_FILE, "missing") from None
        if len(data) < _TOMBSTONES_HEAD.size:
            raise CorruptBlockError(block, TOMBSTONES_FILE, "shorter than its header")
        magic, version, count = _TOMBSTONES_HEAD.unpack_from(data, 0)
        if magic != _TOMBSTONES_MAGIC or version != TOMBSTONES_VERSION:
            raise CorruptBlockError(block, TOMBSTONES_FILE, f"bad magic or version {version}")
        if len(data) != _TOMBSTONES_HEAD.size + count * _TOMBSTONE.itemsize:
            raise CorruptBlockError(block, TOMBSTONES_FILE, f"size does not fit {count} entries")
        self._entries = np.frombuffer(
            data, dtype=_TOMBSTONE, count=count, offset=_TOMBSTONES_HEAD.size
        )
        self._series = frozenset(self._entries["series"].tolist())

    def has(self, sid: int) -> bool:
        return sid in self._series

    def keep_mask(self, sid: int, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        keep = np.ones(len(ts), dtype=bool)
        for entry in self._entries[self._entries["series"] == sid]:
            keep &= (ts < entry["mint"]) | (ts > entry["maxt"])
        return keep


# ---------------------------------------------------------------- the blocks of a data dir


def open_blocks(parent_dir: Path, cache: DecodedCache | None = None) -> list[Block]:
    """Every complete block under `parent_dir`, oldest range first (leftovers ignored)."""
    if not parent_dir.is_dir():
        return []
    paths = sorted(p for p in parent_dir.iterdir() if p.is_dir() and is_ulid(p.name))
    blocks: list[Block] = []
    try:
        for path in paths:
            blocks.append(Block.open(path, cache))
    except BaseException:
        for block in blocks:
            block.close()
        raise
    blocks.sort(key=lambda b: (b.meta.mint, b.meta.ulid))
    return blocks


def delete_block(block: Block) -> None:
    """Remove a block so that a crash midway never leaves a half-deleted block visible; with
    readers still holding it, its directory goes when the last one releases it."""
    block.retire(delete=True)


def remove_leftovers(parent_dir: Path) -> list[Path]:
    """Delete half-written and half-deleted block directories left by a crash."""
    removed = []
    if parent_dir.is_dir():
        for path in parent_dir.iterdir():
            if path.is_dir() and path.name.endswith((TMP_CREATION, TMP_DELETION)):
                shutil.rmtree(path)
                removed.append(path)
    return removed
