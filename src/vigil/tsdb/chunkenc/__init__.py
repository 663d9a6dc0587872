"""Sample encodings, shared by the head and blocks (Prometheus's `tsdb/chunkenc`):
`block_record` (one zstd record per series, the block format on disk) and `head_chunk`
(the head's closed chunks, many rows at once), built on `primitives`."""

from vigil.tsdb.chunkenc.block_record import ChunkFormatError, Samples, decode, encode
from vigil.tsdb.chunkenc.head_chunk import decode_chunks, encode_chunks

__all__ = ["ChunkFormatError", "Samples", "decode", "decode_chunks", "encode", "encode_chunks"]
