"""The real node_exporter 1.5 pointed at the recorded tree (`--path.procfs`, `--path.sysfs`) and
vigil's collectors on the same tree export the same families: names, HELP, TYPE, label sets and
values, exactly. The tree holds what the test machine lacks (a 10 Gb/s NIC with an alias, a
dormant Wi-Fi link, a value procfs cannot parse)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import free_port, peer, running
from tests.exporter.conftest import OPTIONS, PATHS, exposition
from vigil.exporter import FACTORIES, ScrapeCollector
from vigil.exposition.text import parse_text

pytestmark = pytest.mark.slow

# Collectors whose every input lies under --path.procfs / --path.sysfs.
COLLECTORS = ["arp", "netclass", "softnet", "udp_queues"]

# A time, and node_exporter's own build.
UNCOMPARED = {"node_scrape_collector_duration_seconds", "node_exporter_build_info"}

Family = tuple[str | None, str, dict[tuple[tuple[str, str], ...], float]]


def families(body: str) -> dict[str, Family]:
    return {
        f.name: (f.help, f.type.value, {tuple(s.labels): s.value for s in f.samples})
        for f in parse_text(body)
        if f.name.startswith("node_") and f.name not in UNCOMPARED
    }


@pytest.fixture(scope="module")
def node_exporter() -> Iterator[dict[str, Family]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    args = [
        peer("prometheus-node-exporter"),
        f"--web.listen-address=127.0.0.1:{port}",
        f"--path.procfs={PATHS.procfs}",
        f"--path.sysfs={PATHS.sysfs}",
        "--collector.disable-defaults",
        *(f"--collector.{name}" for name in COLLECTORS),
    ]
    with running(args, url):
        yield families(httpx.get(url).text)


@pytest.fixture(scope="module")
def vigil() -> dict[str, Family]:
    collectors = [FACTORIES[name](OPTIONS, lambda: 0.0) for name in COLLECTORS]
    return families(exposition(ScrapeCollector(collectors, lambda: 0.0)))


def test_same_family_names(node_exporter: dict[str, Family], vigil: dict[str, Family]) -> None:
    assert sorted(vigil) == sorted(node_exporter)


def test_every_collector_succeeds(node_exporter: dict[str, Family]) -> None:
    _, _, success = node_exporter["node_scrape_collector_success"]
    assert success == {(("collector", name),): 1.0 for name in COLLECTORS}


def test_same_help_type_labels_and_values(
    node_exporter: dict[str, Family], vigil: dict[str, Family]
) -> None:
    for name in sorted(node_exporter.keys() & vigil.keys()):
        assert vigil[name] == node_exporter[name], name
