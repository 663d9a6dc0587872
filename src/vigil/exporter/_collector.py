"""What a host collector is, and the scrape that runs them all: each collector's failure becomes
`node_scrape_collector_success{collector="x"} 0` and one log line, never a broken `/metrics`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger("vigil.exporter")


class HostCollector(Protocol):
    """A prometheus_client-style collector with node_exporter's collector name (the `collector` label)."""

    @property
    def name(self) -> str: ...

    def collect(self) -> Iterable[Metric]: ...


class NoDataError(Exception):
    """The source does not exist on this host (no hwmon, no PSI, conntrack not loaded): success 0,
    but not an error worth logging on every scrape."""


class SourceError(ValueError):
    """A file that exists but does not read as the kernel documents it."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


def read_text(path: str) -> str:
    """The whole file, read once; procfs and sysfs files are ASCII."""
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def read_number(path: str) -> float:
    text = read_text(path).strip()
    try:
        return float(text)
    except ValueError:
        raise SourceError(path, f"expected a number, got {text[:40]!r}") from None


class ScrapeCollector:
    """Runs each host collector once per scrape, in order, and reports
    `node_scrape_collector_duration_seconds` / `node_scrape_collector_success` for each."""

    def __init__(self, collectors: Sequence[HostCollector], timer: Callable[[], float]) -> None:
        self._collectors = list(collectors)
        self._timer = timer
        self._reported_no_data: set[str] = set()

    @property
    def collectors(self) -> list[HostCollector]:
        return self._collectors

    def collect(self) -> Iterator[Metric]:
        duration = GaugeMetricFamily(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            labels=["collector"],
        )
        success = GaugeMetricFamily(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            labels=["collector"],
        )
        for collector in self._collectors:
            name = collector.name
            start = self._timer()
            families: list[Metric] = []
            ok = 1.0
            try:
                # extend() keeps what a collector produced before failing, as node_exporter does.
                families.extend(collector.collect())
            except NoDataError as err:
                ok = 0.0
                level = logging.DEBUG if name in self._reported_no_data else logging.INFO
                self._reported_no_data.add(name)
                log.log(level, "collector %s: no data: %s", name, err)
            except Exception as err:  # a collector must never break the scrape
                ok = 0.0
                log.error("collector %s failed: %s", name, err)
            duration.add_metric([name], self._timer() - start)
            success.add_metric([name], ok)
            yield from families
        yield duration
        yield success
