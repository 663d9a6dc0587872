"""Alertmanager API v2 JSON bodies as Alertmanager 0.25 reads them: a lone surrogate escape in a
label is accepted (as U+FFFD) and rendered back, 100,000 levels of nesting are a 400, not a
RecursionError's 500; a body over the cap is a 413 before it is buffered."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port, peer, running
from tests.security.conftest import LiveServer, health_watched
from vigil.web.alertmanager_api import MAX_BODY_BYTES

CONFIG = "route:\n  receiver: 'null'\nreceivers:\n- name: 'null'\n"
JSON = {"Content-Type": "application/json"}


@contextmanager
def _alertmanagers(tmp_path: Path) -> Iterator[dict[str, LiveServer]]:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    with ExitStack() as stack:
        out = {}
        for name in ("alertmanager", "vigil"):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            common = [
                f"--config.file={config}",
                f"--storage.path={tmp_path / name}",
                f"--web.listen-address=127.0.0.1:{port}",
            ]
            if name == "alertmanager":
                args = [peer("prometheus-alertmanager"), *common, "--cluster.listen-address="]
            else:
                args = [sys.executable, "-m", "vigil", "alertmanager", *common]
            proc = stack.enter_context(running(args, f"{base}/-/ready"))
            out[name] = LiveServer(base, proc.pid)
        yield out


BODIES = [
    ("lone surrogate", b'[{"labels": {"alertname": "x\\ud800", "i": "\\udfff"}}]', 200),
    ("100k deep", b"[" * 100_000 + b"]" * 100_000, 400),
    (
        "deep in an alert",
        b'[{"labels": {"a": "b"}, "annotations": ' + b"[" * 50_000 + b"]" * 50_000 + b"}]",
        400,
    ),
    ("truncated", b'[{"labels": {"a": ', 400),
]


def test_alert_bodies_answer_as_alertmanager_does(tmp_path: Path) -> None:
    with _alertmanagers(tmp_path) as servers, health_watched(servers["vigil"]) as health:
        statuses = {
            name: [
                httpx.post(
                    f"{s.url}/api/v2/alerts", content=body, headers=JSON, timeout=30
                ).status_code
                for _, body, _ in BODIES
            ]
            for name, s in servers.items()
        }
        shown = {
            name: sorted(
                a["labels"]["alertname"]
                for a in httpx.get(f"{s.url}/api/v2/alerts", timeout=10).json()
            )
            for name, s in servers.items()
        }
    want = [status for _, _, status in BODIES]
    assert statuses == {"alertmanager": want, "vigil": want}
    assert shown == {"alertmanager": ["x\ufffd"], "vigil": ["x\ufffd"]}
    assert {status for status, _ in health.answers} == {200}


def test_silence_bodies_answer_as_alertmanager_does(tmp_path: Path) -> None:
    deep = b'{"matchers": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with _alertmanagers(tmp_path) as servers:
        statuses = {
            name: httpx.post(
                f"{s.url}/api/v2/silences", content=deep, headers=JSON, timeout=30
            ).status_code
            for name, s in servers.items()
        }
    assert statuses == {"alertmanager": 400, "vigil": 400}


def test_a_body_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with _alertmanagers(tmp_path) as servers:
        vigil = servers["vigil"]
        response = httpx.post(
            f"{vigil.url}/api/v2/alerts",
            content=b"[" + b" " * MAX_BODY_BYTES + b"]",
            headers=JSON,
            timeout=60,
        )
    assert response.status_code == 413
    assert "larger than" in response.text
