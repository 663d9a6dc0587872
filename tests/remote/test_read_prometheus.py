"""Remote read with a real Prometheus on both sides: Prometheus configured with `remote_read`
pointing at vigil answers queries with vigil's samples (external labels added), and vigil
configured with `remote_read` pointing at Prometheus answers with Prometheus's samples
merged with its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.conftest import free_port, peer, running

from vigil.tsdb.importer import import_openmetrics

pytestmark = pytest.mark.slow

T0 = 1_700_000_000
T = T0 + 607  # inside both data sets, off the sample grid (2.42 and 3.x windows agree)


def _openmetrics(name: str, instances: int) -> str:
    lines = [f"# TYPE {name} gauge"]
    for k in range(instances):
        lines += [f'{name}{{instance="i{k}"}} {k + i / 7!r} {T0 + i * 15}' for i in range(60)]
    return "\n".join([*lines, "# EOF"]) + "\n"


def _query(url: str, query: str) -> list[dict[str, Any]]:
    params = {"query": query, "time": str(T)}
    body = httpx.get(f"{url}/api/v1/query", params=params, timeout=10).json()
    assert body["status"] == "success", body
    return sorted(body["data"]["result"], key=lambda s: sorted(s["metric"].items()))


def _vigil(root: Path, port: int, config: dict[str, Any]) -> list[str]:
    (root / "vigil.yml").write_text(yaml.safe_dump(config))
    return [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--config.file={root / 'vigil.yml'}",
        f"--storage.tsdb.path={root / 'vigil'}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
        "--agent.disable",
        "--rules.default.disable",
        "--alertmanager.disable",
    ]


def _prometheus(root: Path, port: int, config: dict[str, Any]) -> list[str]:
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    return [
        peer("prometheus"),
        f"--config.file={root / 'prometheus.yml'}",
        f"--storage.tsdb.path={root / 'prometheus'}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
    ]


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """vigil's data dir holds `vigil_metric`, Prometheus's holds `prom_metric`."""
    (tmp_path / "v.om").write_text(_openmetrics("vigil_metric", 3))
    (tmp_path / "p.om").write_text(_openmetrics("prom_metric", 2))
    import_openmetrics(tmp_path / "v.om", tmp_path / "vigil")
    subprocess.run(
        [
            peer("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(tmp_path / "p.om"),
            str(tmp_path / "prometheus"),
        ],
        check=True,
        capture_output=True,
    )
    yield tmp_path


def test_prometheus_reads_vigils_data(data: Path) -> None:
    vigil_port, prom_port = free_port(), free_port()
    vigil_url, prom_url = f"http://127.0.0.1:{vigil_port}", f"http://127.0.0.1:{prom_port}"
    vigil_args = _vigil(
        data, vigil_port, {"global": {"external_labels": {"site": "edge"}}, "scrape_configs": []}
    )
    prom_args = _prometheus(
        data,
        prom_port,
        {
            "scrape_configs": [],
            "remote_read": [{"url": f"{vigil_url}/api/v1/read", "read_recent": True}],
        },
    )
    with running(vigil_args, f"{vigil_url}/-/ready"), running(prom_args, f"{prom_url}/-/ready"):
        local = _query(vigil_url, "vigil_metric[5m]")
        via_prometheus = _query(prom_url, "vigil_metric[5m]")
        rate = _query(prom_url, "sum(rate(vigil_metric[5m]))")
    want = [{**s, "metric": {**s["metric"], "site": "edge"}} for s in local]
    assert len(local) == 3
    assert via_prometheus == want
    assert len(rate) == 1


def test_vigil_reads_prometheus_data_merged_with_its_own(data: Path) -> None:
    vigil_port, prom_port = free_port(), free_port()
    vigil_url, prom_url = f"http://127.0.0.1:{vigil_port}", f"http://127.0.0.1:{prom_port}"
    prom_args = _prometheus(data, prom_port, {"scrape_configs": []})
    vigil_args = _vigil(
        data,
        vigil_port,
        {
            "scrape_configs": [],
            "remote_read": [
                {"url": f"{prom_url}/api/v1/read", "read_recent": True, "name": "prom"}
            ],
        },
    )
    query = '{__name__=~"prom_metric|vigil_metric"}[5m]'
    with running(prom_args, f"{prom_url}/-/ready"), running(vigil_args, f"{vigil_url}/-/ready"):
        merged = _query(vigil_url, query)
        remote = _query(prom_url, "prom_metric[5m]")
        own = _query(vigil_url, "vigil_metric[5m]")
    assert (len(remote), len(own)) == (2, 3)
    assert merged == sorted(remote + own, key=lambda s: sorted(s["metric"].items()))
