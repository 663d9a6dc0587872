"""`vigil agent` side by side with the real node_exporter 1.5 (Debian `prometheus-node-exporter`)
on this machine, node_exporter with its default collectors: every family it exports, vigil
exports too, with the same HELP/TYPE lines and label names; equal values where they cannot move
between two reads; counters bracketed by two node_exporter scrapes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, peer
from vigil.exporter import DEFAULT_ENABLED
from vigil.exposition import MetricType
from vigil.exposition.text import parse_text

pytestmark = pytest.mark.slow

# Families only one side has, and why that is intended.
ONLY_NODE_EXPORTER = {
    "node_exporter_build_info": "node_exporter's own build; vigil exports vigil_build_info",
}
# The Go runtime, the HTTP handler and the process of whichever program answers.
RUNTIME_PREFIXES = ("go_", "promhttp_", "process_")
# Values that cannot move between two reads: (family, compare label sets too)
STABLE = [
    "node_memory_MemTotal_bytes",
    "node_boot_time_seconds",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
    "node_uname_info",
    "node_os_info",
    "node_os_version",
    "node_filefd_maximum",
    "node_entropy_pool_size_bits",
    "node_nf_conntrack_entries_limit",
    "node_time_zone_offset_seconds",
    "node_time_clocksource_available_info",
    "node_disk_info",
    "node_network_info",
    "node_network_mtu_bytes",
    "node_selinux_enabled",
    "node_timex_status",
    "node_timex_sync_status",
    "node_timex_tick_seconds",
    "node_timex_tai_offset_seconds",
]
# adjtimex values that move while the kernel steers the clock (maxerror grows by up to 500 µs/s
# until it is reset), with the slack allowed beyond the two node_exporter reads around vigil's.
DRIFTING = {
    "node_timex_offset_seconds": 1e-3,
    "node_timex_frequency_adjustment_ratio": 1e-6,
    "node_timex_maxerror_seconds": 1e-2,
    "node_timex_estimated_error_seconds": 1e-2,
}
PROM_FILE = """# HELP batch_last_run_seconds Last run of the batch.
# TYPE batch_last_run_seconds gauge
batch_last_run_seconds{job="a"} 1700000000
batch_last_run_seconds{job="b",env="x"} 1700000100
"""


def wait_until_serving(proc: subprocess.Popen[bytes], url: str) -> None:
    """Poll the port (bounded); between tries, wait on the process so an early exit shows."""
    for _ in range(200):
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"server for {url} exited with {proc.returncode} before serving")
    pytest.fail(f"nothing served {url}")


def serve(args: list[str], url: str) -> Iterator[str]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(proc, url)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def textfile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("textfile")
    (directory / "batch.prom").write_text(PROM_FILE)
    return directory


@pytest.fixture(scope="module")
def node_exporter(textfile_dir: Path) -> Iterator[str]:
    port = free_port()
    yield from serve(
        [
            peer("prometheus-node-exporter"),
            f"--web.listen-address=127.0.0.1:{port}",
            f"--collector.textfile.directory={textfile_dir}",
        ],
        f"http://127.0.0.1:{port}/metrics",
    )


@pytest.fixture(scope="module")
def vigil_agent(textfile_dir: Path) -> Iterator[str]:
    port = free_port()
    yield from serve(
        [
            sys.executable,
            "-m",
            "vigil",
            "agent",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--collector.textfile.directory={textfile_dir}",
        ],
        f"http://127.0.0.1:{port}/metrics",
    )


class Scrape:
    def __init__(self, body: str) -> None:
        self.headers = {
            line.split(" ", 3)[2] + " " + line.split(" ", 3)[1]: line
            for line in body.splitlines()
            if line.startswith(("# HELP ", "# TYPE "))
        }
        self.families = {
            f.name: f for f in parse_text(body) if not f.name.startswith(RUNTIME_PREFIXES)
        }

    def label_names(self, name: str) -> set[tuple[str, ...]]:
        return {tuple(sample.labels.names()) for sample in self.families[name].samples}

    def values(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(s.labels): s.value for s in self.families[name].samples}


@pytest.fixture(scope="module")
def scrapes(node_exporter: str, vigil_agent: str) -> tuple[Scrape, Scrape, Scrape]:
    """node_exporter, then vigil, then node_exporter again: counters fall between the two."""
    before = Scrape(httpx.get(node_exporter).text)
    ours = Scrape(httpx.get(vigil_agent).text)
    after = Scrape(httpx.get(node_exporter).text)
    return before, ours, after


def test_every_default_family_is_exported(
    scrapes: tuple[Scrape, Scrape, Scrape], summary: Callable[[str], None]
) -> None:
    theirs, ours, _ = scrapes
    wanted = set(theirs.families) - set(ONLY_NODE_EXPORTER)
    missing = sorted(wanted - set(ours.families))
    summary(
        f"node_exporter coverage: vigil exports {len(wanted) - len(missing)} of the "
        f"{len(wanted)} families node_exporter 1.5's default collectors export here"
    )
    assert not missing, f"node_exporter exports, vigil does not: {', '.join(missing)}"


def test_no_node_family_of_our_own(scrapes: tuple[Scrape, Scrape, Scrape]) -> None:
    theirs, ours, _ = scrapes
    assert (
        sorted(n for n in ours.families if n.startswith("node_") and n not in theirs.families) == []
    )


def test_same_help_type_and_label_names(scrapes: tuple[Scrape, Scrape, Scrape]) -> None:
    theirs, ours, _ = scrapes
    for name in sorted(set(theirs.families) & set(ours.families)):
        for kind in ("HELP", "TYPE"):
            header = f"{kind} {name}"
            assert ours.headers.get(header) == theirs.headers.get(header), name
        assert ours.label_names(name) == theirs.label_names(name), name


@pytest.mark.parametrize("name", STABLE)
def test_stable_values_are_equal(scrapes: tuple[Scrape, Scrape, Scrape], name: str) -> None:
    theirs, ours, _ = scrapes
    assert ours.values(name) == theirs.values(name)


@pytest.mark.parametrize(("name", "slack"), sorted(DRIFTING.items()))
def test_drifting_values_fall_between_two_node_exporter_scrapes(
    scrapes: tuple[Scrape, Scrape, Scrape], name: str, slack: float
) -> None:
    before, ours, after = scrapes
    (value,) = ours.values(name).values()
    (first,) = before.values(name).values()
    (second,) = after.values(name).values()
    assert min(first, second) - slack <= value <= max(first, second) + slack


def test_cpu_count_is_equal(scrapes: tuple[Scrape, Scrape, Scrape]) -> None:
    theirs, ours, _ = scrapes
    cpus = [
        {dict(key)["cpu"] for key in scrape.values("node_cpu_seconds_total")}
        for scrape in (theirs, ours)
    ]
    assert cpus[0] == cpus[1]


def test_counters_fall_between_two_node_exporter_scrapes(
    scrapes: tuple[Scrape, Scrape, Scrape],
) -> None:
    before, ours, after = scrapes
    checked = 0
    for name, family in sorted(ours.families.items()):
        if family.type is not MetricType.COUNTER or name not in before.families:
            continue
        low, high = before.values(name), after.values(name)
        for key, value in ours.values(name).items():
            if key in low and key in high:
                assert low[key] - 1e-6 <= value <= high[key] + 1e-6, (name, key)
                checked += 1
    assert checked > 50


def test_scrape_success_agrees(scrapes: tuple[Scrape, Scrape, Scrape]) -> None:
    """Collectors both have succeed or fail alike; node_exporter's others (bcache, cpufreq, …)
    export nothing on this machine, or the coverage test names their families."""
    theirs, ours, _ = scrapes
    mine = ours.values("node_scrape_collector_success")
    wanted = theirs.values("node_scrape_collector_success")
    shared = mine.keys() & wanted.keys()
    assert {k: mine[k] for k in shared} == {k: wanted[k] for k in shared}
    assert {dict(k)["collector"] for k in shared} == DEFAULT_ENABLED
    # vigil's own collectors (containers, docker, oomkill) have no node_exporter twin.
    assert {dict(k)["collector"] for k in mine.keys() - wanted.keys()} == {
        "containers",
        "docker",
        "oomkill",
    }
