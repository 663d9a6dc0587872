"""Shared helpers of the container collector tests: recorded trees, scrapes as plain values."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from containers_testdata import FakeClock

from vigil.exporter._collector import ScrapeCollector


@dataclass(frozen=True)
class Scrape:
    """One scrape through the host exporter's ScrapeCollector, as {(sample name, labels): value}."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    types: dict[str, str]

    def value(self, metric: str, /, **labels: str) -> float | None:
        return self.samples.get((metric, frozenset(labels.items())))

    def series(self, metric: str, /, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
        """The samples of `metric` whose labels include `labels`."""
        want = set(labels.items())
        return {k: v for (n, k), v in self.samples.items() if n == metric and want <= k}

    def success(self, collector: str) -> float | None:
        return self.value("node_scrape_collector_success", collector=collector)


def scrape_collectors(collectors: Iterable[Any]) -> Scrape:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    for family in ScrapeCollector(list(collectors), timer=lambda: 0.0).collect():
        assert family.name not in types, f"family {family.name} twice"
        types[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    return Scrape(samples, types)


@pytest.fixture
def scrape() -> Callable[[Iterable[Any]], Scrape]:
    return scrape_collectors


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory short enough for a unix socket path (108 bytes at most)."""
    path = Path(tempfile.mkdtemp(prefix="vigil-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
