"""`POST /api/v1/write`: the Remote-Write 1.0 receiver (`--web.enable-remote-write-receiver`).

Prometheus instances, vmagent or other vigils push snappy-compressed `WriteRequest`s. The
request is read straight from its wire format (samples located in one pass, decoded with
numpy; label sets cached by their encoded bytes), about twice as fast as going through the
protobuf runtime's message objects; its samples go into the TSDB as one appender batch.
A request the head refuses part of (out of order, duplicate timestamp with another value,
too old) is answered 400 naming what was refused, so the sender drops it instead of retrying
forever; the samples of it that could be stored are kept, as is everything stored before.
A request the storage cannot take now (a full disk, the WAL still replaying) is answered 503
with `Retry-After`, so the sender keeps it and retries; those refusals are logged once a
minute with their count, not once per request.
Metadata is accepted and ignored (vigil keeps no metadata store yet).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cramjam
import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram
from vigil.remote import prompb
from vigil.remote.histograms import from_prompb
from vigil.tsdb import Appender, StorageNotReady
from vigil.tsdb.head_append import (
    DUPLICATE,
    OUT_OF_BOUNDS,
    OUT_OF_ORDER,
    SERIES_LIMIT,
    TOO_FAR_IN_FUTURE,
    UNKNOWN_SERIES,
    CommitResult,
)
from vigil.web.body import read_capped

log = logging.getLogger(__name__)

DISABLED_MESSAGE = (
    "remote write receiver needs to be enabled with --web.enable-remote-write-receiver"
)

_REASONS = {
    OUT_OF_ORDER: "out of order",
    DUPLICATE: "duplicate sample for timestamp",
    OUT_OF_BOUNDS: "out of bounds (older than the head accepts)",
    TOO_FAR_IN_FUTURE: "out of bounds (too far in the future: beyond now + --storage.tsdb.max-future)",
    SERIES_LIMIT: "refused by the series limit",
    UNKNOWN_SERIES: "of an unknown series",
}


class CommittingAppender(Appender, Protocol):
    """An Appender that tells what its last commit did (the head's appender does)."""

    result: CommitResult

    def append_series(
        self,
        labels: Sequence[Labels],
        counts: npt.NDArray[np.int64],
        t_ms: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        """Samples grouped by series; a series with no sample in the accepted time range is
        not created."""
        ...


@dataclass(frozen=True, slots=True)
class ReceiverOptions:
    """Bounds on one request, so a huge push cannot take the process's memory."""

    max_body_bytes: int = 32 << 20  # snappy-compressed, as sent
    max_decoded_bytes: int = 128 << 20  # the protobuf after decompression


RETRY_AFTER_S = 30
"""What a 503 asks the sender to wait: storage that cannot write is rarely repaired sooner."""

LOG_EVERY_S = 60.0


class StorageRefusals:
    """Pushes answered 503 because the storage cannot write: the first is logged at once,
    later ones at most once per `every_s` with their count and the last reason."""

    def __init__(
        self, clock: Callable[[], float], sender: str, every_s: float = LOG_EVERY_S
    ) -> None:
        self._clock = clock
        self._sender = sender
        self._every_s = every_s
        self._logged_at: float | None = None
        self._unlogged = 0

    def refused(self, err: OSError) -> Response:
        """The 503 for a push whose commit failed with `err` (nothing of it was stored)."""
        return retry_later(self.note(err))

    def note(self, err: OSError) -> str:
        """The reason a push refused for `err` is answered with, logged as said above."""
        reason = f"storage cannot write: {os.strerror(err.errno) if err.errno else err}"
        now = self._clock()
        self._unlogged += 1
        last = self._logged_at
        if last is not None and now - last < self._every_s:
            return reason
        if last is None:
            log.error("%s refused with 503: %s", self._sender, reason)
        else:
            log.error(
                "%s: %d requests refused with 503 in the last %.0fs: %s",
                self._sender,
                self._unlogged,
                now - last,
                reason,
            )
        self._logged_at, self._unlogged = now, 0
        return reason


def retry_later(message: str) -> Response:
    """503 with Retry-After: the sender keeps the push and sends it again."""
    return PlainTextResponse(message, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


class WriteRejected(Exception):
    """A request answered with `status` and `message` (plain text, as Prometheus does)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class DecodedWrite:
    """One WriteRequest's samples: series `labels[i]` owns `counts[i]` consecutive entries of
    `timestamps`/`values`; native histogram samples are (series index, ms, histogram)."""

    labels: list[Labels]
    counts: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    histograms: list[tuple[int, int, FloatHistogram]] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return len(self.timestamps) + len(self.histograms)


def decode_write_request(body: bytes, max_decoded_bytes: int) -> DecodedWrite:
    """Snappy block → protobuf → samples; raises WriteRejected(400) saying what is wrong."""
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except cramjam.DecompressionError as err:
        raise WriteRejected(400, f"body is not snappy-compressed (block format): {err}") from None
    if size > max_decoded_bytes:
        raise WriteRejected(
            400,
            f"request too large: {size} bytes decompressed, more than the limit of "
            f"{max_decoded_bytes}",
        )
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as err:
        raise WriteRejected(400, f"body is not snappy-compressed (block format): {err}") from None
    try:
        return _SCANNER.scan(raw)
    except _Malformed as err:
        raise WriteRejected(
            400, f"body is not a valid WriteRequest protobuf (truncated or corrupt): {err}"
        ) from None


# --- the wire format, read without a Python object per sample --------------------------------
#
# WriteRequest{timeseries = 1 (TimeSeries), metadata = 3}; TimeSeries{labels = 1 (Label),
# samples = 2 (Sample), exemplars = 3, histograms = 4}; Sample{value = 1 (double),
# timestamp = 2 (int64)}. One Python loop step per series and per label field; the samples
# are located in that loop and decoded together with numpy.

_TAG_1_LEN = 0x0A  # field 1, length-delimited
_TAG_2_LEN = 0x12  # field 2, length-delimited
_TAG_HISTOGRAM = 0x22  # TimeSeries.histograms: field 4, length-delimited
_TAG_VALUE = 0x09  # Sample.value: field 1, 64-bit
_TAG_TIMESTAMP = 0x10  # Sample.timestamp: field 2, varint
_PAD = bytes(24)  # lets the numpy gathers read past the last sample
_TEN = np.arange(10)
_SHIFTS = (7 * np.arange(10)).astype(np.uint64)


class _Malformed(Exception):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    try:
        byte = buf[pos]
        if byte < 0x80:
            return byte, pos + 1
        value, shift = byte & 0x7F, 7
        pos += 1
        while True:
            byte = buf[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, pos
            shift += 7
            if shift >= 70:
                raise _Malformed(f"varint longer than 10 bytes at byte {pos}")
    except IndexError:
        raise _Malformed("message ends inside a varint") from None


def _skip(buf: bytes, pos: int, wire_type: int) -> int:
    """Past a field of a kind vigil does not read (metadata, exemplars, histograms)."""
    if wire_type == 0:
        return _varint(buf, pos)[1]
    if wire_type == 1:
        return pos + 8
    if wire_type == 2:
        size, pos = _varint(buf, pos)
        return pos + size
    if wire_type == 5:
        return pos + 4
    raise _Malformed(f"wire type {wire_type} at byte {pos}")


def _label(buf: bytes, pos: int, stop: int) -> tuple[str, str]:
    name = value = ""
    while pos < stop:
        key, pos = _varint(buf, pos)
        if key in (_TAG_1_LEN, _TAG_2_LEN):
            size, pos = _varint(buf, pos)
            try:
                text = buf[pos : pos + size].decode()
            except UnicodeDecodeError as err:
                raise _Malformed(f"label text is not UTF-8: {err}") from None
            pos += size
            if key == _TAG_1_LEN:
                name = text
            else:
                value = text
        else:
            pos = _skip(buf, pos, key & 7)
    if pos != stop:
        raise _Malformed("a label runs past its end")
    return name, value


def _sample(buf: bytes, pos: int, stop: int) -> tuple[int, float]:
    """A Sample in any field order (the slow path: numpy takes the usual layout)."""
    timestamp, value = 0, 0.0
    while pos < stop:
        key, pos = _varint(buf, pos)
        if key == _TAG_VALUE:
            if pos + 8 > stop:
                raise _Malformed("a sample value runs past its end")
            value = float(np.frombuffer(buf, dtype="<f8", count=1, offset=pos)[0])
            pos += 8
        elif key == _TAG_TIMESTAMP:
            timestamp, pos = _varint(buf, pos)
            timestamp -= (timestamp >> 63) << 64
        else:
            pos = _skip(buf, pos, key & 7)
    if pos != stop:
        raise _Malformed("a sample runs past its end")
    return timestamp, value


class _Scanner:
    """WriteRequest bytes → DecodedWrite. Label sets are cached by their encoded bytes: a
    sender pushes the same series again every scrape interval."""

    def __init__(self, max_cached: int = 1 << 18) -> None:
        self._labels: dict[bytes, Labels] = {}
        self._max_cached = max_cached

    def scan(self, raw: bytes) -> DecodedWrite:
        labels: list[Labels] = []
        counts: list[int] = []
        starts: list[int] = []
        sizes: list[int] = []
        histograms: list[tuple[int, int, int]] = []  # series index, start, size
        pos, end = 0, len(raw)
        while pos < end:
            key, pos = _varint(raw, pos)
            if key != _TAG_1_LEN:
                pos = _skip(raw, pos, key & 7)
                continue
            size, pos = _varint(raw, pos)
            stop = pos + size
            if stop > end:
                raise _Malformed(f"timeseries {len(labels)} is truncated")
            before = len(starts)
            labels.append(self._series(raw, pos, stop, starts, sizes, len(labels), histograms))
            counts.append(len(starts) - before)
            pos = stop
        if pos != end:
            raise _Malformed("the last field is truncated")
        timestamps, values = _samples(raw, starts, sizes)
        return DecodedWrite(
            labels,
            np.asarray(counts, dtype=np.int64),
            timestamps,
            values,
            [_histogram(raw, *found) for found in histograms],
        )

    def _series(
        self,
        raw: bytes,
        pos: int,
        stop: int,
        starts: list[int],
        sizes: list[int],
        index: int,
        histograms: list[tuple[int, int, int]],
    ) -> Labels:
        spans: list[tuple[int, int]] = []
        while pos < stop:  # the hot loop: one-byte keys and lengths read inline
            at = pos
            key = raw[pos]
            if key in (_TAG_1_LEN, _TAG_2_LEN):
                size = raw[pos + 1] if pos + 1 < stop else 0x80
                if size < 0x80:
                    pos += 2
                else:
                    size, pos = _varint(raw, pos + 1)
                if key == _TAG_1_LEN:
                    pos += size
                    spans.append((at, pos))
                else:
                    starts.append(pos)
                    sizes.append(size)
                    pos += size
            else:
                key, pos = _varint(raw, pos)
                if key == _TAG_HISTOGRAM:
                    size, pos = _varint(raw, pos)
                    histograms.append((index, pos, size))
                    pos += size
                else:
                    pos = _skip(raw, pos, key & 7)
        if pos != stop:
            raise _Malformed(f"timeseries {index} runs past its end")
        if not spans:
            return Labels()
        first, last = spans[0][0], spans[-1][1]
        contiguous = sum(b - a for a, b in spans) == last - first
        cache_key = raw[first:last] if contiguous else b"".join(raw[a:b] for a, b in spans)
        found = self._labels.get(cache_key)
        if found is not None:
            return found
        pairs = []
        for a, b in spans:
            body = _varint(raw, _varint(raw, a)[1])[1]
            name, value = _label(raw, body, b)
            if value:
                pairs.append((name, value))
        try:
            found = Labels.from_pairs(pairs)
        except ValueError as err:
            raise WriteRejected(400, f"timeseries {index}: {err}") from None
        if len(self._labels) >= self._max_cached:
            self._labels.clear()
        self._labels[cache_key] = found
        return found


def _samples(
    raw: bytes, start_list: list[int], size_list: list[int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Every sample at once in the layout senders use (`09 <8 bytes> 10 <varint>`, either
    field left out when zero); any other layout is decoded one by one."""
    starts = np.asarray(start_list, dtype=np.int64)
    sizes = np.asarray(size_list, dtype=np.int64)
    buf = np.frombuffer(raw + _PAD, dtype=np.uint8)
    has_value = buf[starts] == _TAG_VALUE
    no_timestamp = has_value & (sizes == 9)
    ts_tag = starts + np.where(has_value, 9, 0)
    n_varint = np.where(no_timestamp, 0, sizes - (ts_tag - starts) - 1)
    fast = no_timestamp | ((buf[ts_tag] == _TAG_TIMESTAMP) & (n_varint >= 1) & (n_varint <= 10))
    value_bytes = buf[(starts + 1)[:, None] + np.arange(8)[None, :]]
    values = np.ascontiguousarray(value_bytes).view("<f8").ravel().copy()
    values[~has_value] = 0.0
    groups = buf[(ts_tag + 1)[:, None] + _TEN[None, :]]
    used = _TEN[None, :] < n_varint[:, None]
    continued = _TEN[None, :] < (n_varint - 1)[:, None]
    fast &= (((groups >= 0x80) == continued) | ~used).all(axis=1)
    parts = (groups & 0x7F).astype(np.uint64) << _SHIFTS[None, :]
    timestamps = np.where(used, parts, np.uint64(0)).sum(axis=1, dtype=np.uint64).view(np.int64)
    for row in np.flatnonzero(~fast).tolist():
        start = int(starts[row])
        timestamps[row], values[row] = _sample(raw, start, start + int(sizes[row]))
    return timestamps, values


def _histogram(raw: bytes, index: int, start: int, size: int) -> tuple[int, int, FloatHistogram]:
    try:
        msg = prompb.Histogram.FromString(raw[start : start + size])
        return index, msg.timestamp, from_prompb(msg)
    except (DecodeError, ValueError) as err:
        raise _Malformed(f"timeseries {index}: a histogram does not decode: {err}") from None


_SCANNER = _Scanner()


def store(appender: CommittingAppender, write: DecodedWrite) -> CommitResult:
    """One batch, one commit; series without samples in the accepted time range create nothing."""
    if not write.counts.any() and not write.histograms:
        return CommitResult()
    appender.append_series(write.labels, write.counts, write.timestamps, write.values)
    for index, t_ms, histogram in write.histograms:
        appender.append_histogram(write.labels[index], t_ms, histogram)
    appender.commit()
    return appender.result


def refusal(result: CommitResult, total: int) -> str | None:
    """Why part of a request was not stored, or None if all of it was."""
    if not result.rejected:
        return None
    parts = ", ".join(
        f"{count} {_REASONS.get(reason, reason)}"
        for reason, count in sorted(result.rejected.items())
    )
    refused = sum(result.rejected.values())
    kept = f"{result.appended} stored"
    if result.deduplicated:
        kept += f", {result.deduplicated} already stored"
    return f"{refused} of {total} samples refused ({parts}); {kept}"


class WriteReceiver:
    """The `/api/v1/write` route; `enabled=False` answers 404 as Prometheus does without the flag."""

    def __init__(
        self,
        appendable: Callable[[], CommittingAppender],
        options: ReceiverOptions = ReceiverOptions(),
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._appendable = appendable
        self._options = options
        self._enabled = enabled
        self._refusals = StorageRefusals(clock, "remote write")

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/api/v1/write", self.write, methods=["POST"])]

    async def write(self, request: Request) -> Response:
        if not self._enabled:
            return PlainTextResponse(DISABLED_MESSAGE, status_code=404)
        try:
            body = await self._body(request)
            result, total = await run_in_threadpool(self._decode_and_store, body)
        except WriteRejected as err:
            log.warning("remote write from %s refused: %s", _client(request), err.message)
            return PlainTextResponse(err.message, status_code=err.status)
        except StorageNotReady as err:  # the WAL is still replaying: the sender retries a 5xx
            return retry_later(str(err))
        except OSError as err:  # the commit was refused whole: nothing of it was stored
            return self._refusals.refused(err)
        problem = refusal(result, total)
        if problem is not None:
            log.warning("remote write from %s: %s", _client(request), problem)
            return PlainTextResponse(problem, status_code=400)
        return Response(status_code=204)

    def _decode_and_store(self, body: bytes) -> tuple[CommitResult, int]:
        write = decode_write_request(body, self._options.max_decoded_bytes)
        return store(self._appendable(), write), write.n_samples

    async def _body(self, request: Request) -> bytes:
        limit = self._options.max_body_bytes
        too_large = WriteRejected(
            400, f"request too large: body of more than {limit} bytes (the limit)"
        )
        body = await read_capped(request, limit)
        if body is None:
            raise too_large
        return body


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "?"
