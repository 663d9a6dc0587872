"""The seed's memory alerts, end to end, in vigil and in the real Prometheus side by side.

Both scrape the same fake node_exporter, evaluate the seed's rules (with `for: 3s` so the
test stays short) and POST to an Alertmanager-API capture sink. The test moves the memory
gauge across 80 % and 90 % and back, and compares what each sent: which alerts, in which
order they fired and resolved, with which labels and annotations.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import FIXTURES, free_port, peer, running

pytestmark = pytest.mark.slow

TOTAL = 1_000_000_000


class _World:
    """The fake exporter's memory gauge and everything the sink received, per sender."""

    def __init__(self) -> None:
        self.used = 0.5
        self.received: dict[str, list[dict[str, Any]]] = {"vigil": [], "prometheus": []}
        self.lock = threading.Lock()


def _handler(world: _World) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            available = round(TOTAL * (1 - world.used))
            body = (
                "# TYPE node_memory_MemTotal_bytes gauge\n"
                f"node_memory_MemTotal_bytes {TOTAL}\n"
                "# TYPE node_memory_MemAvailable_bytes gauge\n"
                f"node_memory_MemAvailable_bytes {available}\n"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            sender = self.path.strip("/").split("/")[0]
            alerts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with world.lock:
                world.received.setdefault(sender, []).extend(alerts)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def _http_server(world: _World) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(world))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _rules(tmp: Path) -> Path:
    seed = yaml.safe_load(
        (FIXTURES / "seed-stack" / "rules" / "node-server-alerts.yml").read_text()
    )
    for rule in seed["groups"][0]["rules"]:
        rule["for"] = "3s"
    path = tmp / "rules.yml"
    path.write_text(yaml.safe_dump(seed))
    return path


def _config(tmp: Path, name: str, port: int, rules: Path) -> Path:
    path = tmp / f"{name}.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "global": {
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "evaluation_interval": "1s",
                },
                "rule_files": [str(rules)],
                "alerting": {
                    "alertmanagers": [
                        {
                            "path_prefix": f"/{name}",
                            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                        }
                    ]
                },
                "scrape_configs": [
                    {
                        "job_name": "node-server",
                        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                    }
                ],
            }
        )
    )
    return path


def _events(alerts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(alertname, firing|resolved) in the order each first reached the sink."""
    seen: list[tuple[str, str]] = []
    for alert in alerts:
        ends = alert.get("endsAt", "")
        state = (
            "resolved"
            if (ends and ends < alert.get("startsAt", "")) or _in_past(ends)
            else "firing"
        )
        event = (alert["labels"]["alertname"], state)
        if event not in seen:
            seen.append(event)
    return seen


def _in_past(timestamp: str) -> bool:
    from datetime import datetime

    if not timestamp:
        return False
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() <= time.time()


def _wait(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("the alerts did not arrive in time")


def test_seed_alerts_match_prometheus(tmp_path: Path, summary: Callable[[str], None]) -> None:
    world = _World()
    rules = _rules(tmp_path)
    with _http_server(world) as port:
        prom_port, vigil_port = free_port(), free_port()
        prometheus = [
            peer("prometheus"),
            f"--config.file={_config(tmp_path, 'prometheus', port, rules)}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ]
        vigil = [
            sys.executable, "-m", "vigil", "server",
            f"--config.file={_config(tmp_path, 'vigil', port, rules)}",
            f"--storage.tsdb.path={tmp_path / 'vigil-data'}",
            f"--web.listen-address=127.0.0.1:{vigil_port}",
            "--agent.disable",
            "--rules.default.disable",  # only the rules Prometheus runs too
        ]  # fmt: skip
        with (
            running(prometheus, f"http://127.0.0.1:{prom_port}/-/ready"),
            running(vigil, f"http://127.0.0.1:{vigil_port}/-/ready"),
        ):

            def both_have(event: tuple[str, str]) -> Callable[[], bool]:
                def check() -> bool:
                    with world.lock:
                        return all(
                            event in _events(world.received[s]) for s in ("vigil", "prometheus")
                        )

                return check

            world.used = 0.85
            _wait(both_have(("MediumMemoryUsage", "firing")), 30)
            world.used = 0.95
            _wait(both_have(("HighMemoryUsage", "firing")), 30)
            world.used = 0.5
            _wait(both_have(("HighMemoryUsage", "resolved")), 30)
            _wait(both_have(("MediumMemoryUsage", "resolved")), 30)

    with world.lock:
        received = {sender: list(alerts) for sender, alerts in world.received.items()}
    assert _events(received["vigil"]) == _events(received["prometheus"])

    def shape(alerts: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {
            (
                a["labels"]["alertname"],
                json.dumps(a["labels"], sort_keys=True),
                json.dumps(a.get("annotations", {}), sort_keys=True),
            )
            for a in alerts
        }

    assert shape(received["vigil"]) == shape(received["prometheus"])
    summary(
        f"seed alerts vs Prometheus 2.42: same {len(_events(received['vigil']))} firing/resolved "
        f"events in the same order, {len(shape(received['vigil']))} identical label+annotation sets"
    )
