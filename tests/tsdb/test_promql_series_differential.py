"""Matcher semantics against real Prometheus: one OpenMetrics file imported into vigil (our
importer) and into a Prometheus data dir (`promtool tsdb create-blocks-from openmetrics`);
`/api/v1/series` of a running `prometheus` must equal `Block.series` for every selector."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, peer
from vigil.model import Labels
from vigil.tsdb.block import open_blocks
from vigil.tsdb.importer import import_openmetrics, parse_selector

pytestmark = pytest.mark.slow

T0 = 1_700_000_000  # seconds

OPENMETRICS = "".join(
    f"{series} {value} {T0 + 15 * i}\n"
    for series, value in [
        ('up{job="node",instance="a:9100"}', 1),
        ('up{job="node",instance="b:9100",env=""}', 1),
        ('up{job="api",instance="c:80",env="prod"}', 0),
        ('up{job="",instance="d:1"}', 1),
        ('http_requests_total{job="api",path="/a.b",code="200"}', 10),
        ('http_requests_total{job="api",path="/a+b",code="500"}', 3),
        ('http_requests_total{job="api",path="/a(b)",code="200"}', 4),
        ('http_requests_total{job="api",path="",code="404"}', 5),
        ('node_load1{job="node",instance="a:9100"}', 0.5),
        ('node_load1{job="node",instance="a:9100",note="x\\ny"}', 0.25),
        ('node_load15{job="node",instance="a:9100",dot="."}', 0.125),
    ]
    for i in range(3)
)
OPENMETRICS = (
    "".join(
        sorted(
            OPENMETRICS.splitlines(keepends=True),
            key=lambda line: (
                line.split("{")[0],
                line.rsplit(" ", 1)[0],
                float(line.rsplit(" ", 1)[1]),
            ),
        )
    )
    + "# EOF\n"
)

SELECTORS = [
    "up",
    '{job="node"}',
    '{job="",__name__=~".+"}',
    '{__name__=~"up|node_.*"}',
    '{__name__=~"node"}',  # anchored: matches no name
    '{__name__=~"node.*"}',
    '{__name__=~".+",env=""}',
    '{__name__=~".+",env!=""}',
    '{env=~".*",job="api"}',
    '{env=~".+"}',
    '{env!~""}',
    '{job!~"",__name__="up"}',
    'up{env=~"prod|"}',
    'up{env!~"prod"}',
    '{path=~"/a.b"}',
    '{path=~"/a\\\\(b\\\\)"}',
    '{path=~"/a\\\\+b"}',
    '{path="",__name__="http_requests_total"}',
    '{path=~"",__name__="http_requests_total"}',
    '{__name__!~"up",job="api"}',
    '{__name__!="up",job=~"node|api"}',
    '{instance=~"a:9100|c:80"}',
    '{instance=~"(a|b):9100"}',
    '{__name__=~"http.*",code!="200"}',
    '{dot="."}',
    '{dot=~"[.]"}',
    '{nope="x"}',
    '{nope!="x",job="api"}',
    '{__name__=~"up",instance=~"a.*",job!~"api"}',
    # '.' against a newline differs on purpose: Prometheus 3 (and vigil) match it, 2.42 not
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("series-differential")
    om = root / "data.om"
    om.write_text(OPENMETRICS)
    vigil_dir, prom_dir = root / "vigil", root / "prometheus"
    import_openmetrics(om, vigil_dir)
    subprocess.run(
        [peer("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(om), str(prom_dir)],
        check=True,
        capture_output=True,
    )
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            peer("prometheus"),
            f"--storage.tsdb.path={prom_dir}",
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + PATIENCE_S
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "prometheus exited"
            assert time.monotonic() < deadline, "prometheus not ready within 30 s"
            time.sleep(0.05)
        yield url, vigil_dir
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def prometheus_series(url: str, selector: str) -> list[dict[str, str]] | str:
    answer = httpx.get(
        f"{url}/api/v1/series",
        params={"match[]": selector, "start": str(T0 - 3600), "end": str(T0 + 3600)},
        timeout=10,
    ).json()
    if answer["status"] != "success":
        return f"error: {answer['error']}"
    return sorted(answer["data"], key=lambda d: sorted(d.items()))


def vigil_series(data_dir: Path, selector: str) -> list[dict[str, str]]:
    matchers = parse_selector(selector)
    found: set[Labels] = set()
    for block in open_blocks(data_dir):
        with block:
            found.update(block.series(matchers))
    return sorted((dict(lbls) for lbls in found), key=lambda d: sorted(d.items()))


@pytest.mark.parametrize("selector", SELECTORS)
def test_series_match_prometheus(data: tuple[str, Path], selector: str) -> None:
    url, vigil_dir = data
    want = prometheus_series(url, selector)
    assert not isinstance(want, str), want
    assert vigil_series(vigil_dir, selector) == want


@pytest.mark.parametrize("selector", ['{job=""}', '{instance=~"a:9100|"}', '{x=~".*"}'])
def test_prometheus_refuses_only_empty_matchers(data: tuple[str, Path], selector: str) -> None:
    """The API layer must refuse these (a block would answer with every series)."""
    url, _ = data
    assert prometheus_series(url, selector) == (
        'error: invalid parameter "match[]": match[] must contain at least one non-empty matcher'
    )
