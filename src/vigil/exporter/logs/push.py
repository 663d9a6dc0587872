"""Ship entries to any Loki-push endpoint (vigil, Loki, VictoriaLogs, Grafana Cloud) as
Loki's JSON push body, through the one outbound client builder (auth, TLS, proxy)."""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import httpx
import orjson

from vigil.config.http import HTTPClientConfig
from vigil.config.http_client import sync_client
from vigil.exporter.logs.entry import LogEntry, StreamLabels
from vigil.exporter.logs.outcome import Outcome, PushResult

GZIP_ABOVE_BYTES = 32 * 1024


def push_body(entries: Sequence[LogEntry]) -> bytes:
    streams: dict[StreamLabels, list[list[object]]] = {}
    for e in entries:
        value: list[object] = [str(e.ts_ns), e.line]
        if e.metadata:
            value.append(e.metadata)
        streams.setdefault(e.labels, []).append(value)
    return orjson.dumps(
        {"streams": [{"stream": dict(labels), "values": v} for labels, v in streams.items()]}
    )


class LokiPusher:
    def __init__(
        self,
        url: str,
        http: HTTPClientConfig | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._client = sync_client(
            http or HTTPClientConfig(),
            timeout=timeout_s,
            headers={"User-Agent": "vigil-agent"},
            transport=transport,
        )

    def push(self, entries: Sequence[LogEntry]) -> PushResult:
        body = push_body(entries)
        headers = {"Content-Type": "application/json"}
        if len(body) > GZIP_ABOVE_BYTES:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return PushResult(Outcome.RETRY, f"{type(err).__name__}: {err}")
        if response.is_success:
            return PushResult(Outcome.SHIPPED)
        reason = f"HTTP {response.status_code}: {response.text[:300].strip()}"
        if response.status_code == 429 or response.status_code >= 500:
            return PushResult(Outcome.RETRY, reason)
        return PushResult(Outcome.REJECTED, reason)

    def close(self) -> None:
        self._client.close()
