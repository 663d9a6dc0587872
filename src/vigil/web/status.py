"""The server's status documents as Prometheus's API shapes them: `/api/v1/status/tsdb`,
`/api/v1/status/runtimeinfo` and `/api/v1/alertmanagers`. Each is built from the stage that
owns the figures; the routes that serve the first two are in `web/api.py`."""

from __future__ import annotations

import gc
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.tsdb.db import TSDB
from vigil.web.api import success


def tsdb_status(tsdb: TSDB) -> dict[str, Any]:
    """Prometheus's `/api/v1/status/tsdb` body, plus vigil's own keys: the memory budget and
    who ran into it, and the persisted blocks (oldest first) for the Status page."""
    stats = tsdb.stats()

    def pairs(rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
        return [{"name": name, "value": value} for name, value in rows]

    return {
        "headStats": {
            "numSeries": stats.head_series,
            "chunkCount": stats.head_chunks,
            "minTime": stats.head_min_time,
            "maxTime": stats.head_max_time,
        },
        "seriesCountByMetricName": pairs(stats.series_count_by_metric_name),
        "labelValueCountByLabelName": pairs(stats.label_value_count_by_label_name),
        "memoryInBytesByLabelName": pairs(stats.memory_in_bytes_by_label_name),
        "seriesCountByLabelValuePair": pairs(stats.series_count_by_label_value_pair),
        "maxSeries": stats.max_series,
        "refusedSeriesByMetricName": pairs(stats.refused_series_by_metric_name),
        "blocks": [
            {
                "ulid": b.meta.ulid,
                "minTime": b.meta.mint,
                "maxTime": b.meta.maxt,
                "numSamples": b.meta.num_samples,
                "numSeries": b.meta.num_series,
                "level": b.meta.level,
                "size": b.size_bytes,
            }
            for b in tsdb.blocks
        ],
    }


@dataclass(frozen=True, slots=True)
class RuntimeFacts:
    """What `/api/v1/status/runtimeinfo` reports that only the server knows."""

    started: float
    reload_ok: bool
    last_reload_time: float
    retention_ms: int
    retention_bytes: int
    corruption_count: int = 0  # WAL corruptions repaired at start-up


def runtime_info(facts: RuntimeFacts) -> dict[str, Any]:
    """Prometheus's `/api/v1/status/runtimeinfo` body, with the Python process's facts where
    Prometheus has Go's (goroutines, GOMAXPROCS, GOGC, GODEBUG have no meaning here)."""
    return {
        "startTime": _rfc3339(facts.started),
        "CWD": os.getcwd(),
        "reloadConfigSuccess": facts.reload_ok,
        "lastConfigTime": _rfc3339(facts.last_reload_time),
        "corruptionCount": facts.corruption_count,
        "storageRetention": retention_text(facts.retention_ms, facts.retention_bytes),
        "pythonVersion": platform.python_version(),
        "pythonImplementation": platform.python_implementation(),
        "threadCount": threading.active_count(),
        "cpuCount": os.cpu_count() or 1,
        "gcThresholds": ",".join(map(str, gc.get_threshold())),
        "pid": os.getpid(),
    }


def retention_text(retention_ms: int, retention_bytes: int) -> str:
    """`15d`, `512B`, or both joined by `or` as Prometheus shows them."""
    parts = []
    if retention_ms:
        parts.append(f"{retention_ms // 86_400_000}d")
    if retention_bytes:
        parts.append(f"{retention_bytes}B")
    return " or ".join(parts)


def alertmanagers_routes(urls: Callable[[], list[str]]) -> list[BaseRoute]:
    """Prometheus's `/api/v1/alertmanagers`: where the notifier POSTs alerts."""

    async def endpoint(_: Request) -> Response:
        active = [{"url": url} for url in urls()]
        return success({"activeAlertmanagers": active, "droppedAlertmanagers": []})

    return [Route("/api/v1/alertmanagers", endpoint)]


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
