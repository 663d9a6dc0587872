"""zstd dictionaries for streams that stay small: a chunk of a few KiB compresses poorly on
its own (zstd has seen nothing like it yet), so when chunks move into a block, the small
chunks of streams that share a label-name set (one app's pods, one host's units) are
compressed with one dictionary trained on them (`zstandard.train_dictionary`), which the
block keeps beside them; big chunks carry their own context and are compressed alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import zstandard

from vigil.logs.chunk import Chunk
from vigil.model import Labels

SMALL_CHUNK_BYTES = 64 * 1024
"""Raw line bytes under which a chunk is small."""
MIN_SMALL_CHUNKS = 8
"""Small chunks a label-name set needs in one block before a dictionary is trained."""
MAX_SAMPLE_BYTES = 1 << 20
"""Lines a dictionary is trained on, at most (training time grows with them)."""
DICTIONARY_BYTES = (1024, 16 * 1024)
"""The sizes tried, doubling from the first while the chunks and dictionary together shrink
(a dictionary is stored once per block, so its own bytes count)."""

StreamChunks = tuple[Labels, Sequence[Chunk]]


def compress_for_block(streams: Sequence[StreamChunks], level: int) -> list[StreamChunks]:
    """Every chunk's lines compressed again at zstd `level`; the small chunks of a label-name
    set with at least MIN_SMALL_CHUNKS of them with a dictionary trained on them, when that
    makes them smaller (dictionary included) than without."""
    out = [(labels, [c.recompressed(level) for c in chunks]) for labels, chunks in streams]
    small: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
    for s, (labels, chunks) in enumerate(out):
        for c, chunk in enumerate(chunks):
            if chunk.raw_bytes < SMALL_CHUNK_BYTES:
                small[tuple(labels.names())].append((s, c))
    for places in small.values():
        if len(places) >= MIN_SMALL_CHUNKS:
            _with_dictionary(out, places, level)
    return list(out)


def _with_dictionary(
    streams: list[tuple[Labels, list[Chunk]]], places: list[tuple[int, int]], level: int
) -> None:
    chunks = [streams[s][1][c] for s, c in places]
    samples: list[bytes | bytearray | memoryview] = []
    budget = MAX_SAMPLE_BYTES
    for chunk in chunks:
        if budget <= 0:
            break
        samples.append(chunk.line_bytes()[:budget])
        budget -= len(samples[-1])
    best = sum(len(c.data) for c in chunks)
    smallest: list[Chunk] = []
    size, largest = DICTIONARY_BYTES
    while size <= largest:
        try:
            dictionary = zstandard.train_dictionary(size, samples, level=level)
        except zstandard.ZstdError:
            break  # too few or too uniform samples: zstd finds nothing to learn
        smaller = [chunk.recompressed(level, dictionary) for chunk in chunks]
        total = sum(len(c.data) for c in smaller) + len(dictionary.as_bytes())
        if total >= best:
            break
        best, smallest, size = total, smaller, 2 * size
    for (s, c), chunk in zip(places if smallest else (), smallest, strict=True):
        streams[s][1][c] = chunk
