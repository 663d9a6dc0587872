"""What every log push endpoint does around its decoder: a body bounded before and after
decompression, decoding and storing off the event loop, and the answer from the store's
`PushResult` (204, or 400/429 naming what was not stored), 503 with Retry-After when the
store cannot write (nothing of the push stored, so the shipper retries it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from vigil.logs import LogAppender, PushResult
from vigil.logs.ingest.batch import IngestRejected, Push
from vigil.remote.otlp.decode import decompress
from vigil.remote.receiver import StorageRefusals, WriteRejected, retry_later
from vigil.tsdb import StorageNotReady
from vigil.web.body import read_capped

log = logging.getLogger(__name__)

_MAX_MESSAGES = 10


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Bounds on one request, so a huge or bomb-like push cannot take the process's memory."""

    max_body_bytes: int = 16 << 20  # as sent (compressed)
    max_decoded_bytes: int = 64 << 20  # after Content-Encoding and snappy


Decoder = Callable[[bytes], Push]
"""Decompressed body → the push; raises IngestRejected for a body refused whole."""


class IngestEndpoint:
    def __init__(
        self,
        appender: Callable[[], LogAppender],
        sender: str,
        limits: IngestLimits = IngestLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._appender = appender
        self._sender = sender
        self.limits = limits
        self._refusals = StorageRefusals(clock, sender)

    async def store(self, request: Request, decoder: Decoder) -> PushResult | Response:
        """The push stored, or the answer for a request refused whole (413, 400, 415, 503)."""
        limit = self.limits.max_body_bytes
        body = await read_capped(request, limit)
        if body is None:
            return self.refuse(request, 413, f"request body is larger than {limit} bytes")
        encoding = request.headers.get("content-encoding", "")
        try:
            return await run_in_threadpool(self.decode_and_store, body, encoding, decoder)
        except (IngestRejected, WriteRejected) as err:
            return self.refuse(request, err.status, err.message)
        except StorageNotReady as err:  # the store is still opening: the shipper retries
            return retry_later(str(err))
        except OSError as err:  # nothing of the push was stored: the shipper retries a 503
            return self._refusals.refused(err)

    def refuse(self, request: Request, status: int, message: str) -> Response:
        client = f"{request.client.host}:{request.client.port}" if request.client else "?"
        log.warning("%s from %s refused: %s", self._sender, client, message)
        return PlainTextResponse(message, status_code=status)

    def decode_and_store(self, body: bytes, encoding: str, decoder: Decoder) -> PushResult:
        """Blocking: call it off the event loop. Raises IngestRejected, WriteRejected,
        StorageNotReady or OSError for a push refused whole."""
        raw = decompress(body, encoding, self.limits.max_decoded_bytes)
        return decoder(raw).store(self._appender())


def refusal_text(result: PushResult) -> str:
    """What a push with discarded entries answers, one problem a line as Loki writes them."""
    return "\n".join(refusal_lines(result)) + "\n"


def refusal_lines(result: PushResult) -> list[str]:
    """The problems of a push with discarded entries (the first few streams'), then the total."""
    messages = [d.message for d in result.discarded[:_MAX_MESSAGES]]
    if len(result.discarded) > _MAX_MESSAGES:
        messages.append(f"and {len(result.discarded) - _MAX_MESSAGES} more streams")
    ignored = sum(d.lines for d in result.discarded)
    messages.append(f"total ignored: {ignored} out of {ignored + result.accepted_lines}")
    return messages
