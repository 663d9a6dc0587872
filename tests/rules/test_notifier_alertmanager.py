"""The notifier against the real Alertmanager (Debian's prometheus-alertmanager): a firing
alert it POSTs is listed by Alertmanager's own API with the same labels and annotations, and
once sent resolved it leaves that list and the webhook receiver hears it resolved."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import free_port, peer
from vigil.config.prometheus import parse_config
from vigil.model import Labels
from vigil.model.clock import SystemClock
from vigil.rules.notifier import Notifier, PostableAlert

pytestmark = pytest.mark.slow

LABELS = {"alertname": "HighMemoryUsage", "instance": "web:9100", "severity": "page"}
ANNOTATIONS = {"summary": "memory above 90% <on web>"}


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def _alertmanager_config(webhook_port: int) -> str:
    return f"""
route:
  receiver: capture
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: capture
    webhook_configs:
      - url: http://127.0.0.1:{webhook_port}/hook
"""


async def _poll(check: Any, seconds: float = 15.0) -> Any:
    """Call `check()` until it returns something truthy, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


def test_real_alertmanager_lists_then_resolves_the_alert(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    handler = type("Webhook", (_Webhook,), {"received": received})
    webhook = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    am_port = free_port()
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(_alertmanager_config(webhook.server_address[1]))
    log_file = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            peer("prometheus-alertmanager"),
            f"--config.file={config_file}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{am_port}"
    prometheus_yml = f"alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/-/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            async def listed() -> list[dict[str, Any]]:
                alerts: list[dict[str, Any]] = (await client.get("/api/v2/alerts")).json()
                return alerts

            assert await _poll(ready), (tmp_path / "alertmanager.log").read_text()
            registry = CollectorRegistry()
            notifier = Notifier(SystemClock(), registry)
            await notifier.apply(parse_config(prometheus_yml, str(tmp_path / "prometheus.yml")))
            notifier.start()
            try:
                now_ms = int(time.time() * 1000)
                firing = PostableAlert(
                    Labels.from_dict(LABELS),
                    Labels.from_dict(ANNOTATIONS),
                    now_ms,
                    now_ms + 240_000,
                    "http://vigil.test:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
                )
                notifier.send([firing])
                alerts = await _poll(listed)
                assert [
                    (a["labels"], a["annotations"], a["status"]["state"], a["startsAt"][:19])
                    for a in alerts
                ] == [
                    (
                        LABELS,
                        ANNOTATIONS,
                        "active",
                        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms / 1000)),
                    )
                ]
                assert alerts[0]["generatorURL"] == firing.generator_url

                async def heard(status: str) -> bool:
                    return any(
                        m["status"] == status and m["alerts"][0]["labels"] == LABELS
                        for m in received
                    )

                # Alertmanager only tells of a resolve it told of firing first.
                assert await _poll(lambda: heard("firing")), received

                resolved_ms = int(time.time() * 1000)
                notifier.send(
                    [
                        PostableAlert(
                            firing.labels,
                            firing.annotations,
                            now_ms,
                            resolved_ms,
                            firing.generator_url,
                        )
                    ]
                )

                async def gone() -> bool:
                    return await listed() == []

                assert await _poll(gone)

                assert await _poll(lambda: heard("resolved")), received
                url = {"alertmanager": f"{base}/api/v2/alerts"}
                assert registry.get_sample_value("prometheus_notifications_sent_total", url) == 2
                assert registry.get_sample_value("prometheus_notifications_errors_total", url) == 0
            finally:
                await notifier.stop()

    try:
        asyncio.run(scenario())
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
        webhook.shutdown()
        webhook.server_close()
