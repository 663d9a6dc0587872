"""`POST /api/v1/otlp/v1/metrics`: the OTLP/HTTP metrics receiver (`--web.enable-otlp-receiver`).

OpenTelemetry SDKs and collectors push `ExportMetricsServiceRequest`s (protobuf or JSON, gzip or
not). The samples translated from a request go into the TSDB as one appender batch, through the
same appender as remote write: the same out-of-bounds and --storage.tsdb.max-future checks, a
request the head refuses part of answered 400 naming what was refused (so the exporter does not
retry it), 503 with Retry-After while the WAL replays or the storage cannot write (the exporter
retries; a full disk is logged once a minute, not per request). Data points vigil does not store
(delta temporality, exponential histograms, untranslatable names) are answered 200 with OTLP's
`partial_success` saying how many and why, logged, and counted in
`vigil_otlp_data_points_dropped_total{reason}`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.config.prometheus import OTLPConfig
from vigil.remote.otlp.decode import (
    PROTOBUF,
    decompress,
    encode_response,
    media_type,
    parse_request,
)
from vigil.remote.otlp.translate import (
    BAD_NAME,
    DELTA,
    EXPONENTIAL,
    NO_DATA,
    Translation,
    Translator,
)
from vigil.remote.receiver import (
    CommittingAppender,
    ReceiverOptions,
    StorageRefusals,
    WriteRejected,
    refusal,
    retry_later,
    store,
)
from vigil.tsdb import StorageNotReady
from vigil.tsdb.head_append import CommitResult
from vigil.web.body import read_capped

log = logging.getLogger(__name__)

PATH = "/api/v1/otlp/v1/metrics"
DISABLED_MESSAGE = "otlp write receiver needs to be enabled with --web.enable-otlp-receiver"
_MAX_PROBLEMS_SHOWN = 5
_DEFAULT_CONFIG = OTLPConfig()
_DEFAULT_OPTIONS = ReceiverOptions()


@dataclass(frozen=True, slots=True)
class OTLPSettings:
    """What translation reads at each request (reloaded with the config)."""

    config: OTLPConfig = _DEFAULT_CONFIG
    lookback_delta_ms: int = 300_000


class OTLPReceiver:
    """The OTLP metrics route; `enabled=False` answers 404 as Prometheus does without the flag."""

    def __init__(
        self,
        appendable: Callable[[], CommittingAppender],
        settings: Callable[[], OTLPSettings] = OTLPSettings,
        *,
        enabled: bool = True,
        options: ReceiverOptions = _DEFAULT_OPTIONS,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._appendable = appendable
        self._refusals = StorageRefusals(clock, "OTLP metrics")
        self._settings = settings
        self._enabled = enabled
        self._options = options
        self._translator = Translator()
        self._dropped = Counter(
            "vigil_otlp_data_points_dropped",
            "OTLP data points received but not stored, by reason (delta_temporality, "
            "exponential_histogram: native histograms are not stored yet, untranslatable_name, "
            "unsupported_type).",
            ["reason"],
            registry=registry if registry is not None else CollectorRegistry(),
        )
        for reason in (DELTA, EXPONENTIAL, BAD_NAME, NO_DATA):
            self._dropped.labels(reason)

    def routes(self) -> Sequence[BaseRoute]:
        return [Route(PATH, self.write, methods=["POST"])]

    def listener_routes(self, path: str) -> Sequence[BaseRoute]:
        """The route at `path` on an OTLP listener (--otlp.listen-address), which takes
        metrics whatever --web.enable-otlp-receiver says: the listener is its own switch."""
        return [Route(path, self.accept, methods=["POST"])]

    async def write(self, request: Request) -> Response:
        if not self._enabled:
            return PlainTextResponse(DISABLED_MESSAGE, status_code=404)
        return await self.accept(request)

    async def accept(self, request: Request) -> Response:
        try:
            kind = media_type(request.headers.get("content-type", ""))
            body = await read_capped(request, self._options.max_body_bytes)
            if body is None:
                raise WriteRejected(
                    413,
                    f"request too large: body of more than {self._options.max_body_bytes} "
                    "bytes (the limit)",
                )
            encoding = request.headers.get("content-encoding", "")
            result, translation = await run_in_threadpool(
                self._decode_and_store, body, encoding, kind
            )
        except WriteRejected as err:
            log.warning("OTLP metrics from %s refused: %s", _client(request), err.message)
            return PlainTextResponse(err.message, status_code=err.status)
        except StorageNotReady as err:
            return retry_later(str(err))
        except OSError as err:  # the commit was refused whole: nothing of it was stored
            return self._refusals.refused(err)
        problem = refusal(result, len(translation.write.timestamps))
        if problem is not None:
            log.warning("OTLP metrics from %s: %s", _client(request), problem)
            return PlainTextResponse(problem, status_code=400)
        message = _summary(translation)
        if message:
            log.warning("OTLP metrics from %s: %s", _client(request), message)
        return Response(
            encode_response(kind, translation.n_dropped, message),
            media_type=kind,
        )

    def export_protobuf(self, body: bytes) -> bytes:
        """One OTLP/gRPC export (blocking; whatever --web.enable-otlp-receiver says): the
        ExportMetricsServiceResponse, or WriteRejected with what the HTTP route answers."""
        result, translation = self._decode_and_store(body, "", PROTOBUF)
        problem = refusal(result, len(translation.write.timestamps))
        if problem is not None:
            raise WriteRejected(400, problem)
        message = _summary(translation)
        if message:
            log.warning("OTLP/gRPC metrics: %s", message)
        return encode_response(PROTOBUF, translation.n_dropped, message)

    def _decode_and_store(
        self, body: bytes, encoding: str, kind: str
    ) -> tuple[CommitResult, Translation]:
        raw = decompress(body, encoding, self._options.max_decoded_bytes)
        otlp = parse_request(raw, kind)
        settings = self._settings()
        translation = self._translator.translate(otlp, settings.config, settings.lookback_delta_ms)
        for reason, count in translation.dropped.items():
            self._dropped.labels(reason).inc(count)
        return store(self._appendable(), translation.write), translation


def _summary(translation: Translation) -> str:
    problems = translation.problems
    if not problems:
        return ""
    shown = "; ".join(problems[:_MAX_PROBLEMS_SHOWN])
    more = len(problems) - _MAX_PROBLEMS_SHOWN
    return shown + (f"; and {more} more" if more > 0 else "")


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "?"
