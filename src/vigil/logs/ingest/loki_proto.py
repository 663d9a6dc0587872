"""Loki's protobuf push body: a snappy-compressed (block format, as Promtail, Alloy and
winston-loki send it) `logproto.PushRequest`. A body that does not decompress or decode is
refused whole, saying why: nothing of it is stored."""

from __future__ import annotations

import cramjam
from google.protobuf.message import DecodeError

from vigil.logs.ingest.batch import IngestRejected, Push, PushBatch
from vigil.logs.ingest.discovery import Discovery
from vigil.logs.ingest.logproto_pb2 import PushRequest
from vigil.logs.ingest.selector import SelectorError, parse_labels
from vigil.model import Labels

_NO_METADATA = Labels()


def unsnappy(body: bytes, limit: int) -> bytes:
    """A snappy block decompressed; refused with 400 when it is not one, 413 when it would
    inflate past `limit` (known from its header, before inflating)."""
    try:
        size = cramjam.snappy.decompress_raw_len(body)
        if size > limit:
            raise IngestRejected(
                413,
                f"request too large: {size} bytes decompressed, more than the limit of {limit}",
            )
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as err:
        raise IngestRejected(400, f"body is not snappy-compressed (block format): {err}") from None


def decode(body: bytes, discovery: Discovery, max_decoded_bytes: int) -> Push:
    request = PushRequest()
    try:
        request.ParseFromString(unsnappy(body, max_decoded_bytes))
    except DecodeError as err:
        raise IngestRejected(
            400,
            f"body is not a valid logproto.PushRequest (truncated, corrupt or not UTF-8): {err}",
        ) from None
    batch = PushBatch(discovery)
    for index, stream in enumerate(request.streams):
        try:
            labels = parse_labels(stream.labels)
        except SelectorError as err:
            raise IngestRejected(400, f"streams[{index}].labels: {err}") from None
        stamps = [e.timestamp.seconds * 1_000_000_000 + e.timestamp.nanos for e in stream.entries]
        lines = [e.line.encode() for e in stream.entries]
        metadata = [
            Labels.from_dict({p.name: p.value for p in e.structuredMetadata if p.value})
            if e.structuredMetadata
            else _NO_METADATA
            for e in stream.entries
        ]
        batch.add_stream(labels, stamps, lines, metadata)
    return batch.push()
