"""A block's on-disk index, written and read here: the symbols table (every label name and
value once, sorted), the series (label pairs as symbol ids, time range, sample count, offset
of the series' record in `chunks/`) and the postings (for each label pair, the series that
have it). Every table is a flat little-endian array behind a JSON table of contents, read in
place through mmap; the reader also maps the chunks file the index points into. Since
version 2 the file ends with a CRC32 of everything before it, checked on open, so a flipped
byte is a `CorruptBlockError` naming the block rather than a wrong label or an IndexError."""

from __future__ import annotations

import contextlib
import itertools
import json
import mmap
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.model import Labels, Matcher, MatchType
from vigil.model.regex import Regex
from vigil.model.sorted_set import sorted_set
from vigil.tsdb._api import CorruptDataError
from vigil.tsdb.cache import PostingsCache
from vigil.tsdb.fileutil import write_synced

INDEX_VERSION = 2
_UNCHECKED_VERSION = 1  # before the CRC32 trailer; still read
INDEX_FILE = "index"
CHUNKS_FILE = "chunks/000001"

_INDEX_MAGIC = b"VIGILIDX"
_INDEX_HEAD = struct.Struct("<8sII")  # magic, version, table-of-contents length
_TRAILER = struct.Struct("<I")  # crc32 of the file before it
_EMPTY_I64: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
_POSTINGS_CACHE_BYTES = 16 << 20  # per block: ~2M series ids


class CorruptBlockError(CorruptDataError):
    """A block that cannot be read as written; names the block directory and the file."""

    def __init__(self, block: Path, file: str, reason: str) -> None:
        super().__init__(f"corrupt block {block}: {file}: {reason}")
        self.block = block
        self.file = file
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One series as the index records it."""

    labels: Labels
    offset: int
    length: int
    mint: int
    maxt: int
    samples: int


def write_index(path: Path, entries: list[IndexEntry]) -> None:
    """Write the index of `entries` (label order, each series once) to `path`, fsynced."""
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
    data = _INDEX_HEAD.pack(_INDEX_MAGIC, INDEX_VERSION, len(toc_bytes)) + toc_bytes
    data += b"".join(body)
    write_synced(path, data + _TRAILER.pack(zlib.crc32(data)))


class IndexReader:
    """The index file's tables as numpy views over one read-only mmap."""

    def __init__(self, block: Path) -> None:
        self._block = block
        self._mm: mmap.mmap | None = None
        self._chunks: mmap.mmap | None = None
        self._symbols: _SymbolTable | None = None
        self._postings_cache = PostingsCache(_POSTINGS_CACHE_BYTES)
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
        if version not in (INDEX_VERSION, _UNCHECKED_VERSION):
            raise fail(INDEX_FILE, f"index version {version}, this vigil reads {INDEX_VERSION}")
        trailer = _TRAILER.size if version == INDEX_VERSION else 0
        if trailer:
            _check_crc(mm, fail)
        base = _INDEX_HEAD.size + toc_len
        try:
            toc = json.loads(mm[_INDEX_HEAD.size : base])
            expected = base + int(toc["body_bytes"]) + trailer
            if len(mm) != expected:
                raise fail(INDEX_FILE, f"{len(mm)} bytes, expected {expected} (truncated?)")
            tables: dict[str, npt.NDArray[Any]] = {}
            for name, (offset, dtype, count) in toc["tables"].items():
                tables[name] = np.frombuffer(
                    mm, dtype=np.dtype(dtype), count=count, offset=base + offset
                )
        except (ValueError, KeyError, TypeError) as err:
            raise fail(INDEX_FILE, f"unreadable table of contents: {err}") from None
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

    def verify(self) -> None:
        """Check every table against the others (ids in range, offsets ascending) and decode
        every symbol: what an index without a CRC32 (version 1) needs to be trusted."""
        n_symbols = len(self.symbol_offsets) - 1
        checks = {
            "symbol offsets": _ascending(self.symbol_offsets),
            "series label offsets": _ascending(self.series_label_offsets)
            and int(self.series_label_offsets[-1]) * 2 == len(self.series_labels),
            "series labels": _below(self.series_labels, n_symbols),
            "label names": _below(self.label_names, n_symbols),
            "label values": _below(self.pair_values, n_symbols),
            "label value offsets": _ascending(self.label_value_offsets)
            and int(self.label_value_offsets[-1]) == len(self.pair_values),
            "postings offsets": _ascending(self.postings_offsets)
            and int(self.postings_offsets[-1]) == len(self.postings),
            "postings": _below(self.postings, self.num_series),
            "chunk offsets": bool(
                (self.chunk_offsets + self.chunk_lengths <= self.chunk_lengths.sum()).all()
            ),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise self._fail(INDEX_FILE, f"inconsistent tables: {', '.join(bad)}")
        try:
            self._symbol_table()
        except UnicodeDecodeError as err:
            raise self._fail(INDEX_FILE, f"a symbol is not UTF-8: {err}") from None

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
                ids = sorted_set(ids)
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
        values = [texts[s] for s in self.pair_values[lo:hi].tolist()]
        hits = np.array(m.accepted(values), dtype=np.int64)
        if not want:
            keep = np.ones(hi - lo, dtype=bool)
            keep[hits] = False
            hits = np.flatnonzero(keep)
        found: npt.NDArray[np.int64] = hits + lo
        return found

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


def _check_crc(mm: mmap.mmap, fail: Callable[[str, str], CorruptBlockError]) -> None:
    if len(mm) < _INDEX_HEAD.size + _TRAILER.size:
        raise fail(INDEX_FILE, f"{len(mm)} bytes is shorter than header and checksum")
    (want,) = _TRAILER.unpack_from(mm, len(mm) - _TRAILER.size)
    with memoryview(mm) as whole, whole[: len(mm) - _TRAILER.size] as covered:
        got = zlib.crc32(covered)
    if got != want:
        raise fail(INDEX_FILE, f"checksum mismatch (crc32 {got:08x}, written {want:08x})")


def _ascending(offsets: npt.NDArray[Any]) -> bool:
    return len(offsets) > 0 and int(offsets[0]) == 0 and bool((offsets[1:] >= offsets[:-1]).all())


def _below(ids: npt.NDArray[Any], bound: int) -> bool:
    return not len(ids) or int(ids.max()) < bound


def _matcher_key(m: Matcher) -> tuple[Matcher, Regex | None]:
    """A matcher with its regex: matchers equal as values may be anchored differently."""
    return m, m._regex


def _ranges(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Concatenation of arange(s, s + c) for each (s, c), without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(counts)
    shift = np.repeat(starts - (ends - counts), counts)
    out: npt.NDArray[np.int64] = np.arange(total, dtype=np.int64) + shift
    return out
