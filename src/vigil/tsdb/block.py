"""Immutable on-disk blocks: one directory per time window, written once and renamed atomically.

Layout of `<parent>/<ULID>/` (see DESIGN.md, storage):

- `meta.json` — versioned: ULID, inclusive [mint, maxt] in ms, stats, compaction level and
  the level-1 blocks it was built from.
- `index` — symbols table (every label name and value once, sorted), series (sorted by
  labels: label pairs as symbol ids, per-series time range and sample count, offset of
  its record in `chunks/`), and postings (for each label pair, the series that have it).
  Every table is a flat little-endian array, read in place through mmap.
- `chunks/000001` — one `chunkenc.block_record` record per series, back to back.
- `tombstones` — deleted (series, time range) intervals; written empty today, honoured by
  every read, so deletion can come later without a format change.

A block being written lives in `<ULID>.tmp-for-creation` and only appears under its ULID
once every file and the directory are fsynced; a block being deleted is first renamed to
`<ULID>.tmp-for-deletion`. Both leftovers are ignored by `open_blocks` and removed by
`remove_leftovers`.

A corrupt block (a flipped byte in its index or in a series' record, a truncated file) is
kept by the TSDB but marked (`Block.corruption`, logged once): reads that need what is
broken raise `CorruptBlockError` naming the block, the rest of it and every other block
still read, and `vigil tsdb repair` moves it aside to `quarantine/`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.model import Labels, Matcher
from vigil.model.sorted_set import sorted_set
from vigil.tsdb._api import SelectHints
from vigil.tsdb.cache import DecodedCache
from vigil.tsdb.chunkenc import ChunkFormatError, decode, encode
from vigil.tsdb.fileutil import fsync_dir, write_synced
from vigil.tsdb.index import (
    CHUNKS_FILE,
    INDEX_FILE,
    CorruptBlockError,
    IndexEntry,
    IndexReader,
    write_index,
)
from vigil.tsdb.series import SeriesBatch, SeriesData, holds_histogram
from vigil.tsdb.tombstones import EMPTY_TOMBSTONES, TOMBSTONES_FILE, Tombstones

log = logging.getLogger(__name__)

META_VERSION = 1
META_FILE = "meta.json"
TMP_CREATION = ".tmp-for-creation"
TMP_DELETION = ".tmp-for-deletion"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_EMPTY_I64: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
_EMPTY_F64: npt.NDArray[np.float64] = np.empty(0, dtype=np.float64)


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
        write_index(tmp / INDEX_FILE, entries)
        write_synced(tmp / TOMBSTONES_FILE, EMPTY_TOMBSTONES)
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


def _write_chunks(
    path: Path, series: Iterable[SeriesData], mint: int, maxt: int
) -> list[IndexEntry]:
    entries: list[IndexEntry] = []
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
            record = encode(s.timestamps, s.values, s.histograms)
            out.write(record)
            entries.append(IndexEntry(s.labels, offset, len(record), first, last, n))
            offset += len(record)
        out.flush()
        os.fsync(out.fileno())
    return entries


class Block:
    """A persisted block as a `Querier` over its own [mint, maxt]: the index and samples are
    read in place through mmap, so an open block costs little memory whatever its size.
    A block opened by `load_blocks` may be `corruption`-marked (see the module's doc)."""

    def __init__(
        self,
        path: Path,
        meta: BlockMeta,
        index: IndexReader | None,
        tombstones: Tombstones | None,
        cache: DecodedCache | None = None,
    ) -> None:
        """`index` and `tombstones` are None only for a block that could not be opened, which
        `load_blocks` then marks corrupt."""
        self.path = path
        self.meta = meta
        self._index = index
        self._tombstones = tombstones
        self._cache = cache
        self.corruption: CorruptBlockError | None = None
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
        meta = read_meta(path)
        index = IndexReader(path)
        try:
            tombstones = Tombstones(path)
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
        if self._index is not None:
            self._index.close()
        if self._cache is not None:
            self._cache.forget(self.meta.ulid)
        if self._doomed is not None:
            shutil.rmtree(self._doomed)

    # ----- corruption -----

    def mark_corrupt(self, err: CorruptBlockError) -> CorruptBlockError:
        """Remember the block's first corruption and log it once; returns `err` to raise."""
        with self._guard:
            first, self.corruption = self.corruption is None, self.corruption or err
        if first:
            log.error(
                "%s; reads that need it fail (HTTP 422) until `vigil tsdb repair %s` moves the "
                "block to quarantine",
                err,
                self.path.parent,
            )
        return err

    def _readable(self) -> IndexReader:
        """The index, or the block's corruption raised anew (one exception per read, never
        one instance re-raised across threads)."""
        index = self._index
        if index is None:
            assert self.corruption is not None
            raise CorruptBlockError(self.path, self.corruption.file, self.corruption.reason)
        return index

    @contextlib.contextmanager
    def _reading(self) -> Iterator[IndexReader]:
        """The index, with what a flipped byte in an unchecked (version 1) index raises turned
        into CorruptBlockError."""
        index = self._readable()
        try:
            yield index
        except (IndexError, UnicodeDecodeError) as err:
            raise self._index_error(err) from None

    def _index_error(self, err: Exception) -> CorruptBlockError:
        return self.mark_corrupt(
            CorruptBlockError(self.path, INDEX_FILE, f"{type(err).__name__}: {err}")
        )

    def verify(self) -> CorruptBlockError | None:
        """Read every index table and every series' record: the first corruption found (the
        block is marked), or None."""
        try:
            with self._reading() as index:
                try:
                    index.verify()
                except CorruptBlockError as err:
                    raise self.mark_corrupt(err) from None
                for sid in range(index.num_series):
                    self._read(sid, self.meta.mint, self.meta.maxt, cached=False)
        except CorruptBlockError as err:
            return err
        return None

    # ----- reading -----

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
        out = []
        with self._reading() as index:
            counts = np.diff(index.postings_offsets.astype(np.int64)).tolist()
            value_offsets = index.label_value_offsets.tolist()
            for slot, name_sym in enumerate(index.label_names.tolist()):
                name = index.symbol(name_sym)
                lo, hi = value_offsets[slot], value_offsets[slot + 1]
                for at, value_sym in enumerate(index.pair_values[lo:hi].tolist(), start=lo):
                    out.append((name, index.symbol(value_sym), counts[at]))
        return out

    def all_series(self) -> Iterator[SeriesData]:
        """Every series with all its samples, in label order (what compaction merges)."""
        for sid in range(self._readable().num_series):
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
            index = self._readable()
            try:
                labels = index.labels(sid)
                record = index.record(sid)
            except (IndexError, UnicodeDecodeError) as err:
                raise self._index_error(err) from None
            try:
                samples = decode(record)
            except ChunkFormatError as err:
                raise self.mark_corrupt(
                    CorruptBlockError(self.path, CHUNKS_FILE, f"series {labels}: {err}")
                ) from None
            if cache is not None:
                cache.put(self.meta.ulid, sid, labels, samples)
        ts, vs, hs = samples.timestamps, samples.values, samples.histograms
        if len(ts) and (ts[0] < mint or ts[-1] > maxt):
            lo, hi = np.searchsorted(ts, [mint, maxt + 1])
            ts, vs = ts[lo:hi], vs[lo:hi]
            hs = None if hs is None else hs[lo:hi]
        tombstones = self._tombstones
        if tombstones is not None and tombstones.has(sid):
            keep = tombstones.keep_mask(sid, ts)
            ts, vs = ts[keep], vs[keep]
            hs = None if hs is None else hs[keep]
        if not len(ts):
            return None
        if hs is not None and not holds_histogram(hs).any():
            hs = None
        return SeriesData(labels, ts, vs, hs)


def read_meta(path: Path) -> BlockMeta:
    """A block directory's meta.json; CorruptBlockError if it is missing or unreadable."""
    try:
        return BlockMeta.from_json(json.loads((path / META_FILE).read_text()))
    except FileNotFoundError:
        raise CorruptBlockError(path, META_FILE, "missing") from None
    except (ValueError, KeyError, TypeError) as err:
        raise CorruptBlockError(path, META_FILE, str(err)) from None


class BlockQuerier:
    """Read access to one block over inclusive [mint, maxt], with Prometheus's matcher rules;
    every read of a corrupt part raises CorruptBlockError."""

    def __init__(self, block: Block, mint: int, maxt: int) -> None:
        self._block = block
        self.mint = mint
        self.maxt = maxt

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[SeriesData]:
        with self._block._reading() as index:
            ids = self._ids(index, matchers)
            if hints is not None and hints.series_only:
                for sid in ids.tolist():
                    yield SeriesData(index.labels(sid), _EMPTY_I64, _EMPTY_F64)
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
        with self._block._reading() as index:
            if not matchers and self._covers_block():
                return [index.symbol(int(s)) for s in index.label_names]
            names = sorted_set(index.pairs_of(self._ids(index, matchers))[:, 0])
            return [index.symbol(int(s)) for s in names]

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        with self._block._reading() as index:
            if not matchers and self._covers_block():
                lo, hi = index.value_range(name)
                return [index.symbol(int(s)) for s in index.pair_values[lo:hi]]
            name_id = index.symbol_id(name)
            if name_id is None:
                return []
            pairs = index.pairs_of(self._ids(index, matchers))
            values = sorted_set(pairs[pairs[:, 0] == name_id, 1])
            return [index.symbol(int(s)) for s in values]

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        with self._block._reading() as index:
            return [index.labels(sid) for sid in self._ids(index, matchers).tolist()]

    def close(self) -> None:
        """The block stays open: it belongs to whoever opened it."""

    def _covers_block(self) -> bool:
        return self.mint <= self._block.meta.mint and self._block.meta.maxt <= self.maxt

    def _ids(self, index: IndexReader, matchers: Sequence[Matcher]) -> npt.NDArray[np.int64]:
        ids = index.matching(matchers)
        if not self._covers_block():
            ids = ids[(index.series_mint[ids] <= self.maxt) & (index.series_maxt[ids] >= self.mint)]
        return ids


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


def load_blocks(
    parent_dir: Path, cache: DecodedCache | None = None
) -> tuple[list[Block], list[CorruptBlockError]]:
    """What a TSDB serves: `open_blocks`, but a block that does not open is kept, marked
    corrupt (reads over its range fail naming it), and one whose meta.json cannot be read
    (its range is unknown) is left out and returned in the second list; each is logged."""
    if not parent_dir.is_dir():
        return [], []
    blocks: list[Block] = []
    unusable: list[CorruptBlockError] = []
    try:
        for path in sorted(p for p in parent_dir.iterdir() if p.is_dir() and is_ulid(p.name)):
            try:
                blocks.append(Block.open(path, cache))
                continue
            except CorruptBlockError as err:
                broken = err
            try:
                meta = read_meta(path)
            except CorruptBlockError as err:
                log.error(
                    "%s; the block is not loaded (its time range is unknown) until "
                    "`vigil tsdb repair %s` moves it to quarantine",
                    err,
                    parent_dir,
                )
                unusable.append(err)
                continue
            block = Block(path, meta, None, None, cache)
            block.mark_corrupt(broken)
            blocks.append(block)
    except BaseException:
        for block in blocks:
            block.close()
        raise
    blocks.sort(key=lambda b: (b.meta.mint, b.meta.ulid))
    return blocks, unusable


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
