"""A scrape target: its identity (labels and URL), its settings, and its last scrape's outcome.

Identity is what its series are called (public labels) plus where they come from (URL), so a
reload that only changes the interval or a limit keeps the target, its loop and its caches.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from vigil.config.duration import Duration
from vigil.config.scrape import ScrapeConfig
from vigil.exposition.scan import FamilyMetadata
from vigil.model import Labels
from vigil.scrape.relabel import (
    ADDRESS,
    METRICS_PATH,
    PARAM_PREFIX,
    RESERVED_PREFIX,
    SCHEME,
    SCRAPE_INTERVAL,
    SCRAPE_TIMEOUT,
)

# Prometheus's ScrapeProtocolsHeaders.
PROTOCOL_MEDIA_TYPES = {
    "PrometheusProto": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
    "PrometheusText0.0.4": "text/plain;version=0.0.4",
    "PrometheusText1.0.0": "text/plain;version=1.0.0",
    "OpenMetricsText0.0.1": "application/openmetrics-text;version=0.0.1",
    "OpenMetricsText1.0.0": "application/openmetrics-text;version=1.0.0",
}
_ALL_PROTOCOLS = 5  # Prometheus weighs by the number of protocols it knows, protobuf included
_ESCAPED = ("PrometheusText1.0.0", "OpenMetricsText1.0.0")


def accept_header(protocols: tuple[str, ...], escaping: str = "allow-utf-8") -> str:
    """The Accept header Prometheus 3 sends for `scrape_protocols`, most preferred first."""
    parts = []
    weight = _ALL_PROTOCOLS + 1
    for protocol in protocols:
        media = PROTOCOL_MEDIA_TYPES.get(protocol)
        if media is None:
            continue
        if protocol in _ESCAPED:
            media += f";escaping={escaping}"
        parts.append(f"{media};q=0.{weight}")
        weight -= 1
    parts.append(f"*/*;q=0.{weight}")
    return ",".join(parts)


class Health(enum.StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class ScrapeOutcome:
    """How the last scrape went; `error` is "" when it succeeded."""

    started: float  # Unix seconds
    duration: float  # seconds
    error: str
    refused: str = ""  # samples the storage refused, worded for the targets page; not an error

    @property
    def health(self) -> Health:
        return Health.DOWN if self.error else Health.UP


@dataclass(frozen=True, slots=True)
class DroppedTarget:
    """A discovered target that relabeling dropped; the targets page lists it."""

    scrape_pool: str
    discovered_labels: Labels


def target_url(labels: Labels, params: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """Prometheus's Target.URL(): `__param_*` labels override the first value of a config param."""
    query: dict[str, list[str]] = {key: list(values) for key, values in params}
    for name, value in labels:
        if name.startswith(PARAM_PREFIX):
            key = name[len(PARAM_PREFIX) :]
            if query.get(key):
                query[key][0] = value
            else:
                query[key] = [value]
    encoded = urlencode(sorted(query.items()), doseq=True)
    url = f"{labels.get(SCHEME)}://{labels.get(ADDRESS)}{labels.get(METRICS_PATH)}"
    return f"{url}?{encoded}" if encoded else url


class Target:
    """One endpoint to scrape. Labels and URL are fixed; settings follow config reloads and
    `outcome`/`metadata` are written by the target's scrape loop."""

    __slots__ = (
        "discovered_labels",
        "internal_labels",
        "interval",
        "labels",
        "metadata",
        "outcome",
        "scrape_pool",
        "timeout",
        "url",
    )

    def __init__(
        self, scrape_pool: str, internal_labels: Labels, discovered_labels: Labels, url: str
    ) -> None:
        self.scrape_pool = scrape_pool
        self.internal_labels = internal_labels  # with __address__, __scheme__, __param_*, …
        self.labels = Labels(p for p in internal_labels if not p[0].startswith(RESERVED_PREFIX))
        self.discovered_labels = discovered_labels
        self.url = url
        self.interval = Duration.parse(internal_labels.get(SCRAPE_INTERVAL) or "1m")
        self.timeout = Duration.parse(internal_labels.get(SCRAPE_TIMEOUT) or "10s")
        self.outcome: ScrapeOutcome | None = None
        self.metadata: dict[str, FamilyMetadata] = {}

    @classmethod
    def of(cls, config: ScrapeConfig, internal_labels: Labels, discovered: Labels) -> Target:
        return cls(
            config.job_name, internal_labels, discovered, target_url(internal_labels, config.params)
        )

    @property
    def key(self) -> tuple[Labels, str]:
        """What makes two targets the same: the series they produce and where from."""
        return self.labels, self.url

    @property
    def health(self) -> Health:
        return Health.UNKNOWN if self.outcome is None else self.outcome.health

    def offset(self, interval_ms: int) -> int:
        """Milliseconds into each interval at which this target is scraped: spread by a hash
        of the target, stable across restarts (Prometheus's Target.offset)."""
        text = f"{self.labels}\xff{self.url}".encode()
        digest = hashlib.blake2b(text, digest_size=8).digest()
        return int.from_bytes(digest, "little") % max(1, interval_ms)

    def __repr__(self) -> str:
        return f"Target({self.scrape_pool!r}, {self.url!r}, {self.labels})"
