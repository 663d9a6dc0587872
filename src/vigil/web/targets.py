"""`/api/v1/targets` and `/api/v1/targets/metadata`: what the scrape stage is doing, in
Prometheus's JSON (Grafana's and Prometheus's own targets pages read exactly these fields)."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.model import Matcher, matches_all
from vigil.promql import ast
from vigil.promql.errors import PromQLError
from vigil.promql.parser import parse
from vigil.scrape.target import DroppedTarget, Target
from vigil.web.api import APIError, failure, success

_LOCALHOST = ("127.0.0.1", "localhost", "::1")
_ZERO_TIME = "0001-01-01T00:00:00Z"


class TargetSource(Protocol):
    """What the routes read; `vigil.scrape.manager.ScrapeManager` is one."""

    def active_targets(self) -> Mapping[str, Sequence[Target]]: ...

    def dropped_targets(self) -> Mapping[str, Sequence[DroppedTarget]]: ...

    def dropped_counts(self) -> Mapping[str, int]: ...


def family_metadata(
    entries: Iterable[tuple[str, str, str, str]],
) -> dict[str, list[dict[str, str]]]:
    """`/api/v1/metadata`'s data from the targets' (name, type, help, unit) entries (the
    scrape stage's metadata source, which remote write sends too): per metric name, each
    distinct (type, help, unit), in the order first seen."""
    found: dict[str, dict[tuple[str, str, str], None]] = {}
    for name, type_, help_, unit in entries:
        found.setdefault(name, {})[(type_, help_, unit)] = None
    return {
        name: [{"type": t, "help": h, "unit": u} for t, h, u in kinds]
        for name, kinds in found.items()
    }


@dataclass(frozen=True, slots=True)
class GlobalURLOptions:
    """How this server is reached from outside (`--web.external-url`, `--web.listen-address`),
    to turn a localhost scrape URL into one that works from another machine."""

    listen_address: str = "0.0.0.0:9090"
    host: str = f"{socket.gethostname()}:9090"
    scheme: str = "http"


def global_url(url: str, options: GlobalURLOptions) -> str:
    """Prometheus's getGlobalURL: localhost becomes the external host name; a target on our
    own port becomes our external URL's scheme and host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in _LOCALHOST:
        return url
    own_port = options.listen_address.rpartition(":")[2]
    external_host = options.host.rpartition(":")[0] if ":" in options.host else options.host
    port = str(parts.port) if parts.port is not None else ""
    if port == own_port:
        netloc, scheme = options.host, options.scheme
    else:
        netloc, scheme = f"{external_host}:{port}" if port else external_host, parts.scheme
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def _rfc3339(seconds: float) -> str:
    """Go's RFC3339Nano in UTC: fractional digits without trailing zeros."""
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return stamp.rstrip("0").rstrip(".") + "Z"


def _active(target: Target, options: GlobalURLOptions) -> dict[str, Any]:
    outcome = target.outcome
    return {
        "discoveredLabels": dict(target.discovered_labels),
        "labels": dict(target.labels),
        "scrapePool": target.scrape_pool,
        "scrapeUrl": target.url,
        "globalUrl": global_url(target.url, options),
        "lastError": (outcome.error or outcome.refused) if outcome is not None else "",
        "lastScrape": _rfc3339(outcome.started) if outcome is not None else _ZERO_TIME,
        "lastScrapeDuration": outcome.duration if outcome is not None else 0,
        "health": str(target.health),
        "scrapeInterval": str(target.interval),
        "scrapeTimeout": str(target.timeout),
    }


def _matchers(text: str) -> list[Matcher]:
    try:
        node = parse(text)
    except PromQLError as err:
        raise APIError("bad_data", str(err)) from None
    if not isinstance(node, ast.VectorSelector) or len(node.matcher_groups) != 1:
        raise APIError("bad_data", f"{text!r} is not a series selector")
    return list(node.matcher_groups[0])


class TargetsAPI:
    """The two routes over a TargetSource."""

    def __init__(self, source: TargetSource, options: GlobalURLOptions | None = None) -> None:
        self.source = source
        self.options = options if options is not None else GlobalURLOptions()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/targets", self.targets, methods=["GET"]),
            Route("/api/v1/targets/metadata", self.metadata, methods=["GET"]),
        ]

    async def targets(self, request: Request) -> Response:
        state = request.query_params.get("state", "").lower()
        pool_filter = request.query_params.get("scrapePool", "")
        show_active = state in ("", "any", "active")
        show_dropped = state in ("", "any", "dropped")
        active: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        if show_active:
            for pool, targets in sorted(self.source.active_targets().items()):
                if pool_filter and pool != pool_filter:
                    continue
                for target in sorted(targets, key=lambda t: (t.url, t.labels)):
                    active.append(_active(target, self.options))
        if show_dropped:
            for pool, gone in sorted(self.source.dropped_targets().items()):
                if pool_filter and pool != pool_filter:
                    continue
                dropped.extend(
                    {"discoveredLabels": dict(target.discovered_labels)} for target in gone
                )
        counts = {
            pool: count
            for pool, count in sorted(self.source.dropped_counts().items())
            if not pool_filter or pool == pool_filter
        }
        return success(
            {"activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": counts}
        )

    async def metadata(self, request: Request) -> Response:
        """Metadata the targets' expositions carried (`# TYPE`/`# HELP`/`# UNIT`)."""
        params = request.query_params
        try:
            limit = int(params.get("limit") or -1)
        except ValueError:
            return failure(APIError("bad_data", "limit must be a number"))
        metric = params.get("metric", "")
        try:
            matchers = _matchers(params["match_target"]) if params.get("match_target") else []
        except APIError as err:
            return failure(err)
        found: list[dict[str, Any]] = []
        for _, targets in sorted(self.source.active_targets().items()):
            for target in sorted(targets, key=lambda t: (t.url, t.labels)):
                if 0 <= limit <= len(found):
                    break
                if matchers and not matches_all(matchers, target.labels):
                    continue
                known = target.metadata
                names = sorted(known) if not metric else ([metric] if metric in known else [])
                for name in names:
                    entry = known[name]
                    found.append(
                        {
                            "target": dict(target.labels),
                            "metric": name,
                            "type": str(entry.type),
                            "help": entry.help or "",
                            "unit": entry.unit or "",
                        }
                    )
        return success(found)
