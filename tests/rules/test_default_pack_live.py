"""The default pack against what a fresh `vigil server` exports: `vigil check rules
--lint.metrics-from` finds no rule reading a metric that no built-in target exports, except
the metrics listed here with the reason they can be absent on a healthy install."""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PATIENCE_S, REPO, free_port, running
from vigil.cmd import main

pytestmark = pytest.mark.slow

PACK = sorted((REPO / "src" / "vigil" / "rules" / "default").glob("*.yml"))

MAY_BE_ABSENT = {
    # apps.yml watches the user's JVM apps (Micrometer's names); vigil exports none of them.
    "jvm_memory_max_bytes": "an app's metric",
    "jvm_memory_used_bytes": "an app's metric",
    "jvm_memory_committed_bytes": "an app's metric",
    "jvm_buffer_memory_used_bytes": "an app's metric",
    # One series per container: a host without containers has none.
    "vigil_container_memory_limit_bytes": "per container",
    "vigil_container_oom_killed_total": "per container",
    "vigil_container_deaths_total": "per container",
    "vigil_container_last_death_info": "per container",
    "vigil_container_last_exit_code": "per container",
    "vigil_container_running": "per container",
    "vigil_container_restarts_total": "per container",
    # One series per external Alertmanager (alerting.alertmanagers); the built-in one has none.
    "prometheus_notifications_errors_total": "per external Alertmanager",
}

_NO_SERIES = re.compile(r'metric "([^"]+)" has no series')


def test_the_default_pack_reads_only_metrics_a_fresh_server_exports(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
    ]
    with running(args, f"{url}/-/ready"):
        deadline = time.monotonic() + PATIENCE_S
        query = {"query": 'up{job="vigil"} == 1'}
        while not httpx.get(f"{url}/api/v1/query", params=query, timeout=30).json()["data"][
            "result"
        ]:
            assert time.monotonic() < deadline, "vigil never scraped itself"
            time.sleep(0.2)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["check", "rules", f"--lint.metrics-from={url}", *map(str, PACK)])
        # The Rules page's lint is the same lint, run by the server on its own storage.
        served = httpx.get(f"{url}/api/v1/rules/lint", timeout=30).json()["data"]["findings"]
    text = out.getvalue() + err.getvalue()
    assert {f["metric"] for f in served if "/default/" in f["file"]} == set(
        _NO_SERIES.findall(text)
    )
    assert status == 0, text
    missing = set(_NO_SERIES.findall(text))
    assert missing, "the lint found nothing absent at all: did it run?"
    assert missing - MAY_BE_ABSENT.keys() == set(), text
