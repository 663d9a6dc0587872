"""`POST /api/v1/otlp/v1/metrics`: the OTLP/HTTP metrics receiver (`--web.enable-otlp-receiver`).

OpenTelemetry SDKs and collectors push `ExportMetricsServiceRequest`s (protobuf or JSON, gzip or
not). The samples translated from a request go into the TSDB as one appender batch, through the
same appender as remote write: the same out-of-bounds and --storage.tsdb.max-future checks.
Answers are every OTLP receiver's (remote.otlp.export): a request the head refuses all of is a
400 `google.rpc.Status` naming what was refused (so the exporter does not retry it), 503 with
Retry-After while the WAL replays or the storage cannot write (the exporter retries; a full disk
is logged once a minute, not per request). Data points vigil does not store (delta temporality,
exponential histograms, untranslatable names) and samples the head refuses beside others it
stores are answered 200 with OTLP's `partial_success` saying how many and why (the head's in
samples: a histogram point is several); the former are counted in
`vigil_otlp_data_points_dropped_total{reason}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.config.prometheus import OTLPConfig
from vigil.remote.otlp.decode import encode_response, parse_request
from vigil.remote.otlp.export import Exported, ExportLimits, OTLPExport
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
    WriteRejected,
    refusal,
    store,
)

PATH = "/api/v1/otlp/v1/metrics"
OTLP_PATH = "/otlp/v1/metrics"
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
        self._settings = settings
        self._enabled = enabled
        self._export = OTLPExport(
            "OTLP metrics",
            "TSDB",
            self._store,
            encode_response,
            ExportLimits(options.max_body_bytes, options.max_decoded_bytes),
            clock,
        )
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
        """Prometheus's path, and `/otlp/v1/metrics` beside the main port's OTLP traces and
        logs (an SDK's `OTEL_EXPORTER_OTLP_ENDPOINT=http://vigil:9090/otlp` sends all three)."""
        return [Route(p, self.write, methods=["POST"]) for p in (PATH, OTLP_PATH)]

    def listener_routes(self, path: str) -> Sequence[BaseRoute]:
        """The route at `path` on an OTLP listener (--otlp.listen-address), which takes
        metrics whatever --web.enable-otlp-receiver says: the listener is its own switch."""
        return [Route(path, self.accept, methods=["POST"])]

    async def write(self, request: Request) -> Response:
        if not self._enabled:
            return PlainTextResponse(DISABLED_MESSAGE, status_code=404)
        return await self._export.handle(request)

    async def accept(self, request: Request) -> Response:
        return await self._export.handle(request)

    def export_protobuf(self, body: bytes) -> bytes:
        """One OTLP/gRPC export (blocking; whatever --web.enable-otlp-receiver says): the
        ExportMetricsServiceResponse; raises as the HTTP route's store."""
        return self._export.export_protobuf(body)

    def _store(self, raw: bytes, kind: str) -> Exported:
        otlp = parse_request(raw, kind)
        settings = self._settings()
        translation = self._translator.translate(otlp, settings.config, settings.lookback_delta_ms)
        for reason, count in translation.dropped.items():
            self._dropped.labels(reason).inc(count)
        result = store(self._appendable(), translation.write)
        problem = refusal(result, len(translation.write.timestamps))
        if problem is not None and not result.appended and not result.deduplicated:
            raise WriteRejected(400, problem)
        refused = sum(result.rejected.values())
        message = "; ".join(m for m in (_summary(translation), problem) if m)
        return Exported(translation.n_dropped + refused, message)


def _summary(translation: Translation) -> str:
    problems = translation.problems
    if not problems:
        return ""
    shown = "; ".join(problems[:_MAX_PROBLEMS_SHOWN])
    more = len(problems) - _MAX_PROBLEMS_SHOWN
    return shown + (f"; and {more} more" if more > 0 else "")
