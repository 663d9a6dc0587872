"""A real `vigil server` whose data dir is on a small tmpfs that fills up: the storage alert
still fires (its input is read live, not from the full disk) and reaches a webhook through
the built-in Alertmanager, the heartbeat reports the failure to its failure URL, the
remote-write receiver answers 503 with Retry-After, and all of it resolves once there is room
again. Needs root (to mount the tmpfs), as CI has."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cramjam
import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, running
from tests.notify.capture import HTTPCapture, http_capture
from vigil.remote.prompb import Label, Sample, TimeSeries, WriteRequest

pytestmark = pytest.mark.slow


@contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (this test needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _fill(path: Path) -> None:
    """Write `path` until the file system has no byte left."""
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError:
                break
        while True:
            try:
                handle.write(b"\0")
            except OSError:
                return


def _until(what: str, found: Callable[[], Any]) -> Any:
    """Poll `found` until it returns something truthy (bounded by PATIENCE_S)."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {PATIENCE_S:.0f} s")


def _alerts(hook: HTTPCapture, name: str, status: str) -> list[dict[str, Any]]:
    """Alerts named `name` with `status` in the webhook's requests so far."""
    found = []
    for request in list(hook.requests):
        if request.path != "/hook":
            continue
        for alert in json.loads(request.body)["alerts"]:
            if alert["labels"]["alertname"] == name and alert["status"] == status:
                found.append(alert)
    return found


def _push(n_series: int) -> bytes:
    """A remote-write body of `n_series` samples, one per series."""
    now_ms = int(time.time() * 1000)
    series = [
        TimeSeries(
            labels=[
                Label(name="__name__", value="pushed"),
                Label(name="series", value=str(k)),
            ],
            samples=[Sample(value=float(k), timestamp=now_ms)],
        )
        for k in range(n_series)
    ]
    raw = WriteRequest(timeseries=series).SerializeToString()
    return bytes(cramjam.snappy.compress_raw(raw))


def _pushed(api: httpx.Client, status: int) -> httpx.Response | None:
    """One push of 2000 samples (more than a page's slack); its answer if it was `status`."""
    response = api.post("/api/v1/write", content=_push(2000))
    return response if response.status_code == status else None


def test_a_full_disk_fires_the_storage_alert_to_a_webhook_and_resolves(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: vigil\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    with http_capture() as hook, _tmpfs(tmp_path / "data", "16m") as data:
        (tmp_path / "alertmanager.yml").write_text(
            "route:\n  receiver: hook\n  group_by: [alertname]\n"
            "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{hook.url('/hook')}'}}]\n"
        )
        args = [
            sys.executable,
            "-m",
            "vigil",
            "server",
            "--agent.disable",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--alertmanager.config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
            f"--heartbeat.url={hook.url('/ping')}",
            f"--heartbeat.fail-url={hook.url('/ping/fail')}",
            "--heartbeat.interval=1s",
        ]
        with running(args, f"{base}/-/ready"), httpx.Client(base_url=base, timeout=30) as api:
            _until("Watchdog at the webhook", lambda: _alerts(hook, "Watchdog", "firing"))
            assert api.post("/api/v1/write", content=_push(10)).status_code == 204

            _fill(data / "filler")
            firing = _until(
                "firing storage alert at the webhook",
                lambda: _alerts(hook, "VigilStorageProblems", "firing"),
            )
            shown = api.get("/api/v1/alerts").json()["data"]["alerts"]
            refused = _until("remote write refused with 503", lambda: _pushed(api, 503))
            failure_ping = _until(
                "heartbeat failure ping about the storage",
                lambda: [
                    r.body.decode()
                    for r in list(hook.requests)
                    if r.path == "/ping/fail" and r.body.startswith(b"storage cannot write")
                ],
            )[0]

            (data / "filler").unlink()
            _until(
                "resolved storage alert at the webhook",
                lambda: _alerts(hook, "VigilStorageProblems", "resolved"),
            )
            _until("remote write accepted again", lambda: _pushed(api, 204))

    assert {a["labels"]["problem"] for a in firing} == {"wal_write_failed"}
    assert {a["labels"]["instance"] for a in firing} == {f"127.0.0.1:{port}"}
    assert "VigilStorageProblems" in {a["labels"]["alertname"] for a in shown}
    assert (refused.headers["Retry-After"], refused.text) == (
        "30",
        "storage cannot write: No space left on device",
    )
    assert failure_ping.startswith("storage cannot write (no space left on device) for ")
