"""A log chunk: one stream's entries over a span of time, encoded once and shared by the
head and blocks.

Layout (magic VLC3): header (magic, lines, and the byte length of each section), then one
zstd frame of the first timestamp, the differences of the timestamps and the line sizes,
each column little-endian at the narrowest of 1/2/4/8 bytes that holds its values (numpy
reads them in place; zstd makes a steady rate of lines cost next to nothing), the line
bytes as one zstd frame (level 3 in the head, 9 once in a block, COMPACTED_ZSTD once in a
day's block), and structured metadata
as its own zstd frame (pairs per line as varints, then every name and value ended by 0xff),
absent when no line has any. In a block, the line bytes of a small chunk may be compressed
with a zstd dictionary the block keeps (its frame names the dictionary's id; see
logs.dictionaries). The timestamps and sizes are read without decompressing the lines
(stats, series, range checks, counting). The first format (VLC2: timestamps and sizes as
varints) is still read.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import zstandard

from vigil.logs._api import Entries, Lines
from vigil.logs.chunk_values import ChunkValues
from vigil.logs.lines import (
    Metadata,
    decode_metadata,
    encode_metadata,
    slice_lines,
    slice_metadata,
)
from vigil.logs.metadata_column import MetadataColumn
from vigil.model import Labels

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

MAGIC = b"VLC3"
MAGIC_VARINTS = b"VLC2"  # the first format, still read
ZSTD_LEVEL = 3
BLOCK_ZSTD_LEVEL = 9  # a head chunk's lines when it moves into a block
COMPACTED_ZSTD = zstandard.ZstdCompressionParameters(
    window_log=20,
    chain_log=18,
    hash_log=18,
    search_log=2,
    min_match=4,
    target_length=128,
    strategy=zstandard.STRATEGY_BTULTRA,
)
"""A chunk's lines once compacted into a day's block: zstd's optimal parser with literal
costs measured as it goes (btultra) and a two-step search, 11% fewer bytes than level 9 on
Spring-like lines (3% fewer than btopt with one step) for about 2 MB/s of compression (the
day's data is compressed once, in the background; level 19 saves 3% more at a fifth of
that speed) and the same decompression speed."""
Strength = int | zstandard.ZstdCompressionParameters
"""A zstd level or full compression parameters."""
_HEADER = struct.Struct("<4sIIII")  # magic, lines, bytes of timestamps+sizes/lines/metadata
_COLUMNS_HEAD = struct.Struct("<qBB")  # first timestamp, bytes per difference, per size
_WIDTHS = (1, 2, 4, 8)
_MAX_VARINT = 10


class ChunkFormatError(ValueError):
    """A chunk's bytes do not decode (a corrupt file, or not a chunk)."""


def unzigzag(values: U64) -> I64:
    return (values >> np.uint64(1)).view(np.int64) ^ -(values & np.uint64(1)).view(np.int64)


def encode_varints(values: U64) -> bytes:
    if not len(values):
        return b""
    widths = np.ones(len(values), dtype=np.int64)
    for k in range(1, _MAX_VARINT):
        widths += values >= np.uint64(1 << (7 * k))
    ends = np.cumsum(widths)
    starts = ends - widths
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    for k in range(int(widths.max())):
        at = np.flatnonzero(widths > k)
        seven = (values[at] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (widths[at] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[at] + k] = (seven | more).astype(np.uint8)
    return out.tobytes()


def decode_varints(data: bytes | memoryview, count: int) -> U64:
    """One gather per byte position (as many as the widest varint has), over the values that
    are that wide: a column of one-byte varints is a single cast."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if not count:
        if len(raw):
            raise ChunkFormatError(f"{len(raw)} varint bytes for no values")
        return np.empty(0, dtype=np.uint64)
    ends = np.flatnonzero(raw < 0x80)
    if len(ends) != count or ends[-1] != len(raw) - 1:
        raise ChunkFormatError(f"{len(ends)} varints in {len(raw)} bytes, expected {count}")
    if count == len(raw):
        return raw.astype(np.uint64)
    starts = np.empty(count, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    widths = ends - starts + 1
    widest = int(widths.max())
    if widest > _MAX_VARINT:
        raise ChunkFormatError("varint longer than 10 bytes")
    values = (raw[starts] & 0x7F).astype(np.uint64)
    for k in range(1, widest):
        at = np.flatnonzero(widths > k)
        if len(at) == count:
            values |= (raw[starts + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
        else:
            values[at] |= (raw[starts[at] + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return values


def _decompress(
    frame: bytes | memoryview, what: str, dictionary: zstandard.ZstdCompressionDict | None = None
) -> bytes:
    try:
        if dictionary is None:
            return zstandard.ZstdDecompressor().decompress(frame)
        return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(frame)
    except zstandard.ZstdError as err:
        raise ChunkFormatError(f"{what} do not decompress: {err}") from None


@dataclass(frozen=True, slots=True)
class Chunk:
    """Encoded entries (ascending by time) with what the index keeps of them; `values` None
    when its metadata's values are not counted (no metadata, too many, or not known)."""

    mint: int
    maxt: int
    lines: int
    raw_bytes: int  # line bytes before compression
    data: bytes
    dictionary: zstandard.ZstdCompressionDict | None = None  # of the line bytes' frame
    values: ChunkValues | None = field(default=None, compare=False)

    @classmethod
    def encode(cls, timestamps: I64, lines: Lines, metadata: Metadata) -> Chunk:
        """`timestamps` must ascend."""
        deltas = np.diff(timestamps, prepend=timestamps[:1]).view(np.uint64)
        sizes = lines.sizes().view(np.uint64)
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        columns = compressor.compress(
            b"".join(
                (
                    _COLUMNS_HEAD.pack(int(timestamps[0]), _width(deltas), _width(sizes)),
                    _fixed(deltas),
                    _fixed(sizes),
                )
            )
        )
        body = compressor.compress(lines.data)
        meta = b""
        values = None
        if metadata is not None and any(metadata):
            counts, blob = encode_metadata(metadata)
            meta = compressor.compress(encode_varints(counts.astype(np.uint64)) + blob)
            values = ChunkValues.count(MetadataColumn.decode(counts, blob), lines.sizes())
        header = _HEADER.pack(MAGIC, len(timestamps), len(columns), len(body), len(meta))
        return cls(
            int(timestamps[0]),
            int(timestamps[-1]),
            len(timestamps),
            len(lines.data),
            b"".join((header, columns, body, meta)),
            values=values,
        )

    def line_bytes(self) -> bytes:
        """The lines, decompressed, one after the other."""
        _, _, (_, body, _) = self._sections()
        return _decompress(body, "line bytes", self.dictionary)

    def recompressed(
        self, strength: Strength, dictionary: zstandard.ZstdCompressionDict | None = None
    ) -> Chunk:
        """The same chunk with its line bytes compressed again at zstd `strength` (with
        `dictionary`), the other sections as they are: blocks take the time a push cannot
        for fewer bytes. Without a dictionary, the chunk as it was when that is no larger."""
        magic, count, (columns, body, meta) = self._sections()
        data = _decompress(body, "line bytes", self.dictionary)
        smaller = _compressor(strength, dictionary).compress(data)
        if dictionary is None and self.dictionary is None and len(smaller) >= len(body):
            return self
        header = _HEADER.pack(magic, count, len(columns), len(smaller), len(meta))
        return Chunk(
            self.mint,
            self.maxt,
            self.lines,
            self.raw_bytes,
            b"".join((header, columns, smaller, meta)),
            dictionary,
            self.values,
        )

    def with_values(self) -> Chunk:
        """The chunk with its metadata's values counted (read from its bytes when a chunk
        comes without them: a WAL checkpoint, an older block)."""
        if self.values is not None or not self.has_metadata:
            return self
        _, sizes, column = self.counted()
        if column is None:
            return self
        return replace(self, values=ChunkValues.count(column, sizes))

    def section_bytes(self) -> tuple[int, int, int, int]:
        """Bytes of the header, the timestamps and sizes, the lines and the metadata."""
        _, _, (columns, body, meta) = self._sections()
        return _HEADER.size, len(columns), len(body), len(meta)

    def _sections(self) -> tuple[bytes, int, list[memoryview]]:
        data = memoryview(self.data)
        if len(data) < _HEADER.size:
            raise ChunkFormatError(f"chunk of {len(data)} bytes has no header")
        magic, count, *lengths = _HEADER.unpack_from(data)
        if (
            magic not in (MAGIC, MAGIC_VARINTS)
            or _HEADER.size + sum(lengths) != len(data)
            or count != self.lines
        ):
            raise ChunkFormatError("chunk header does not match its bytes")
        sections, at = [], _HEADER.size
        for length in lengths:
            sections.append(data[at : at + length])
            at += length
        return magic, count, sections

    def _columns(self) -> tuple[int, I64, I64, list[memoryview]]:
        """Line count, timestamps, line sizes, and the other sections."""
        magic, count, (columns, *rest) = self._sections()
        both = _decompress(columns, "timestamps and sizes")
        if magic == MAGIC_VARINTS:
            return count, *_varint_columns(both, count), rest
        if len(both) < _COLUMNS_HEAD.size:
            raise ChunkFormatError("timestamps and sizes have no header")
        first, ts_width, size_width = _COLUMNS_HEAD.unpack_from(both)
        if (
            ts_width not in _WIDTHS
            or size_width not in _WIDTHS
            or len(both) != _COLUMNS_HEAD.size + count * (ts_width + size_width)
        ):
            raise ChunkFormatError(f"timestamps and sizes do not hold {count} lines")
        at = _COLUMNS_HEAD.size
        deltas = np.frombuffer(both, dtype=f"<u{ts_width}", count=count, offset=at)
        sizes = np.frombuffer(
            both, dtype=f"<u{size_width}", count=count, offset=at + count * ts_width
        )
        timestamps = np.cumsum(deltas.astype(np.uint64).view(np.int64)) + np.int64(first)
        return count, timestamps, sizes.astype(np.int64), rest

    def timestamps(self) -> I64:
        return self._columns()[1]

    def sizes(self) -> I64:
        return self._columns()[2]

    def entries(self, labels: Labels, needles: Sequence[bytes] = ()) -> Entries | None:
        """None when the line bytes lack one of `needles` (then no other column is decoded)."""
        data = self.line_bytes()
        if not all(needle in data for needle in needles):
            return None
        count, timestamps, sizes, (_, meta) = self._columns()
        offsets = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        if len(data) != offsets[-1]:
            raise ChunkFormatError(f"{len(data)} line bytes, sizes say {offsets[-1]}")
        return Entries(labels, timestamps, Lines(data, offsets), _metadata(meta, count))

    @property
    def has_metadata(self) -> bool:
        """Whether some line has structured metadata (read from the header alone)."""
        if len(self.data) < _HEADER.size:
            raise ChunkFormatError(f"chunk of {len(self.data)} bytes has no header")
        return bool(_HEADER.unpack_from(self.data)[4])

    def counted(self) -> tuple[I64, I64, MetadataColumn | None]:
        """Timestamps, line sizes and metadata (None: no line has any), in line order, line
        bytes left compressed (what counting entries and their bytes needs)."""
        count, timestamps, sizes, (_, meta) = self._columns()
        if not len(meta):
            return timestamps, sizes, None
        try:
            return timestamps, sizes, MetadataColumn.decode(*_metadata_parts(meta, count))
        except ValueError as err:
            raise ChunkFormatError(f"metadata: {err}") from None


def _compressor(
    strength: Strength, dictionary: zstandard.ZstdCompressionDict | None
) -> zstandard.ZstdCompressor:
    if isinstance(strength, int):
        return zstandard.ZstdCompressor(level=strength, dict_data=dictionary)
    return zstandard.ZstdCompressor(compression_params=strength, dict_data=dictionary)


def _metadata_parts(section: memoryview, count: int) -> tuple[I64, bytes]:
    """Pairs per line, and the names and values."""
    column = _decompress(section, "metadata")
    raw = np.frombuffer(column, dtype=np.uint8)
    if len(raw) >= count and not (raw[:count] & 0x80).any():
        return raw[:count].astype(np.int64), column[count:]
    ends = np.flatnonzero(raw < 0x80)
    if len(ends) < count:
        raise ChunkFormatError("metadata column is short")
    split = int(ends[count - 1]) + 1 if count else 0
    return decode_varints(column[:split], count).view(np.int64), column[split:]


def _metadata(section: memoryview, count: int) -> Metadata:
    if not len(section):
        return None
    try:
        return decode_metadata(*_metadata_parts(section, count))
    except (ValueError, UnicodeDecodeError) as err:
        raise ChunkFormatError(f"metadata: {err}") from None


def _width(values: U64) -> int:
    """Bytes per value of the narrowest unsigned type holding every one of `values`."""
    top = int(values.max()) if len(values) else 0
    return next(width for width in _WIDTHS if top < 1 << (8 * width))


def _fixed(values: U64) -> bytes:
    return values.astype(f"<u{_width(values)}").tobytes()


def _varint_columns(both: bytes, count: int) -> tuple[I64, I64]:
    """Timestamps and sizes of the first format: zigzag varints of the timestamps'
    differences (from 0), then the sizes as varints."""
    ends = np.flatnonzero(np.frombuffer(both, dtype=np.uint8) < 0x80)
    if len(ends) != 2 * count:
        raise ChunkFormatError(f"{len(ends)} timestamps and sizes for {count} lines")
    split = int(ends[count - 1]) + 1 if count else 0
    timestamps = np.cumsum(unzigzag(decode_varints(both[:split], count)))
    return timestamps, decode_varints(both[split:], count).view(np.int64)


def slice_entries(entries: Entries, mint: int, maxt: int) -> Entries | None:
    """The entries (ascending) in [mint, maxt], or None when there are none."""
    ts = entries.timestamps
    start = int(np.searchsorted(ts, mint, side="left"))
    stop = int(np.searchsorted(ts, maxt, side="right"))
    if start >= stop:
        return None
    if start == 0 and stop == len(ts):
        return entries
    return Entries(
        entries.labels,
        ts[start:stop],
        slice_lines(entries.lines, start, stop),
        slice_metadata(entries.metadata, start, stop),
    )
