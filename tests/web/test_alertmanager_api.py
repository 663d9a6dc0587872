"""Alertmanager's API v2 side by side: the same requests to the real Alertmanager 0.25 and to
`vigil alertmanager` (same config) give the same status codes and the same bodies once
times and silence ids are masked; `amtool` prints the same against both."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, peer, running

pytestmark = pytest.mark.slow

CONFIG = """
global:
  resolve_timeout: 5m
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1h
  routes:
    - matchers: [severity="page"]
      receiver: pager
      continue: true
    - matchers: [team=~"db|storage"]
      receiver: db
receivers:
  - name: team
  - name: pager
  - name: db
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, instance]
"""

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_AMTOOL_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


def _mask(text: str) -> str:
    return _AMTOOL_TIME.sub("<time>", _UUID.sub("<id>", _TIME.sub("<time>", text)))


@contextmanager
def _both(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The real Alertmanager and vigil's, both on CONFIG; yields name -> base URL."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    real, ours = free_port(), free_port()
    with ExitStack() as stack:
        stack.enter_context(
            running(
                [
                    peer("prometheus-alertmanager"),
                    f"--config.file={config}",
                    f"--storage.path={tmp_path / 'real'}",
                    f"--web.listen-address=127.0.0.1:{real}",
                    "--cluster.listen-address=",
                ],
                f"http://127.0.0.1:{real}/-/ready",
            )
        )
        stack.enter_context(
            running(
                [
                    sys.executable,
                    "-m",
                    "vigil",
                    "alertmanager",
                    f"--config.file={config}",
                    f"--storage.path={tmp_path / 'vigil'}",
                    f"--web.listen-address=127.0.0.1:{ours}",
                ],
                f"http://127.0.0.1:{ours}/-/ready",
            )
        )
        yield {"alertmanager": f"http://127.0.0.1:{real}", "vigil": f"http://127.0.0.1:{ours}"}


ALERTS = [
    {"labels": {"alertname": "Mem", "severity": "critical", "instance": "a"}},
    {"labels": {"alertname": "Mem", "severity": "warning", "instance": "a"}},
    {"labels": {"alertname": "Mem", "severity": "warning", "instance": "b"}},
    {
        "labels": {"alertname": "Disk", "severity": "page", "team": "db", "empty": ""},
        "annotations": {"summary": "disk full"},
        "generatorURL": "http://prometheus/graph?g0.expr=up",
    },
    {
        "labels": {"alertname": "Old"},
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2020-01-01T01:00:00Z",
    },
]
SILENCE = {
    "matchers": [{"name": "instance", "value": "b", "isRegex": False, "isEqual": True}],
    "startsAt": "2020-01-01T00:00:00Z",
    "endsAt": "2099-01-01T00:00:00Z",
    "createdBy": "test",
    "comment": "maintenance",
}

# (method, path, body): run in order against both; bodies compared after masking.
REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", "/api/v2/alerts", "garbage"),
    ("POST", "/api/v2/alerts", ""),
    ("POST", "/api/v2/alerts", ALERTS),
    ("POST", "/api/v2/alerts", [{"labels": {}}]),
    ("POST", "/api/v2/alerts", [{"labels": {"bad name": "x"}}]),
    ("POST", "/api/v2/alerts", [{"labels": {"a": "b"}, "annotations": {"bad name": "x"}}]),
    (
        "POST",
        "/api/v2/alerts",
        [
            {
                "labels": {"a": "b"},
                "startsAt": "2030-01-01T00:00:00Z",
                "endsAt": "2029-01-01T00:00:00Z",
            }
        ],
    ),
    ("POST", "/api/v2/silences", SILENCE),
    (
        "POST",
        "/api/v2/silences",
        {**SILENCE, "matchers": [{"name": "a", "value": "", "isRegex": False, "isEqual": True}]},
    ),
    ("POST", "/api/v2/silences", {**SILENCE, "endsAt": "2019-01-01T00:00:00Z"}),
    ("POST", "/api/v2/silences", {**SILENCE, "endsAt": "2021-01-01T00:00:00Z"}),
    ("GET", "/api/v2/alerts", None),
    ("GET", "/api/v2/alerts?filter=severity%3D%22warning%22", None),
    (
        "GET",
        "/api/v2/alerts?filter=instance%3D~%22a%7Cb%22&filter=severity!%3D%22critical%22",
        None,
    ),
    ("GET", "/api/v2/alerts?inhibited=false", None),
    ("GET", "/api/v2/alerts?silenced=false&inhibited=false", None),
    ("GET", "/api/v2/alerts?active=false", None),
    ("GET", "/api/v2/alerts?receiver=pager", None),
    ("GET", "/api/v2/alerts?receiver=db%7Cteam", None),
    ("GET", "/api/v2/alerts/groups", None),
    ("GET", "/api/v2/alerts/groups?receiver=team", None),
    ("GET", "/api/v2/silences", None),
    ("GET", "/api/v2/silences?filter=instance%3D%22b%22", None),
    ("GET", "/api/v2/silences?filter=instance%3D%22c%22", None),
    ("GET", "/api/v2/silence/not-a-uuid", None),
    ("GET", "/api/v2/silence/00000000-0000-0000-0000-000000000000", None),
    ("DELETE", "/api/v2/silence/00000000-0000-0000-0000-000000000000", None),
    ("GET", "/api/v2/receivers", None),
]


_JSON_TYPE = {"Content-Type": "application/json"}


def _call(base: str, method: str, path: str, body: Any) -> tuple[int, str]:
    if isinstance(body, str):  # sent as is: not JSON
        response = httpx.request(method, base + path, content=body, headers=_JSON_TYPE, timeout=10)
    else:
        response = httpx.request(method, base + path, json=body, timeout=10)
    text = response.text
    with suppress(ValueError):
        text = json.dumps(response.json(), sort_keys=True)
    return response.status_code, _mask(text)


def test_api_v2_answers_as_alertmanager_does(tmp_path: Path, summary: Any) -> None:
    with _both(tmp_path) as bases:
        results: dict[str, list[tuple[int, str]]] = {name: [] for name in bases}
        for method, path, body in REQUESTS:
            for name, base in bases.items():
                results[name].append(_call(base, method, path, body))
        # The silence just made: fetch, expire, fetch again.
        for name, base in bases.items():
            silences = httpx.get(f"{base}/api/v2/silences").json()
            silence_id = next(s["id"] for s in silences if s["status"]["state"] == "active")
            for method in ("GET", "DELETE", "GET"):
                results[name].append(_call(base, method, f"/api/v2/silence/{silence_id}", None))
        status = {name: httpx.get(f"{base}/api/v2/status").json() for name, base in bases.items()}
    real, ours = results["alertmanager"], results["vigil"]
    labels = [f"{m} {p}" for m, p, _ in REQUESTS] + ["GET silence", "DELETE silence", "GET silence"]
    differ = [
        f"{label}:\n  alertmanager {r}\n  vigil        {o}"
        for label, r, o in zip(labels, real, ours, strict=True)
        if r != o
    ]
    summary(f"Alertmanager API v2: {len(labels) - len(differ)}/{len(labels)} requests identical")
    assert not differ, "\n".join(differ)
    assert sorted(status["vigil"]) == sorted(status["alertmanager"])
    assert status["vigil"]["cluster"] == {"peers": [], "status": "disabled"}


AMTOOL = [
    ["alert", "add", "alertname=Foo", "severity=warning", "instance=x", "--annotation=summary=s"],
    ["alert", "add", "alertname=Foo", "severity=critical", "instance=x"],
    ["alert", "query"],
    ["alert", "query", "-i"],
    ["alert", "query", "-a"],
    ["alert", "query", "alertname=Foo", "-o", "extended"],
    ["silence", "add", "alertname=Foo", "-c", "maintenance", "-a", "amtool", "-d", "1h"],
    ["silence", "query"],
    ["silence", "query", "-o", "extended"],
    ["alert", "query", "-s"],
    ["config", "routes"],
    ["config", "routes", "test", "severity=page", "team=db"],
]


def test_amtool_works_against_vigil_as_against_alertmanager(tmp_path: Path, summary: Any) -> None:
    amtool = peer("amtool")
    outputs: dict[str, list[tuple[str, str]]] = {}
    with _both(tmp_path) as bases:
        for name, base in bases.items():
            runs: list[tuple[str, str]] = []

            def run(*args: str, base: str = base, runs: list[tuple[str, str]] = runs) -> str:
                done = subprocess.run(
                    [amtool, f"--alertmanager.url={base}", *args],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                assert done.returncode == 0, (base, args, done.stderr)
                runs.append((" ".join(args), done.stdout))
                return done.stdout

            for args in AMTOOL:
                run(*args)
            exported = tmp_path / f"{name}-silences.json"
            exported.write_text(run("silence", "query", "-o", "json"))
            ids = [s["id"] for s in json.loads(exported.read_text())]
            run("silence", "expire", *ids)
            run("silence", "query", "--expired")
            run("silence", "import", str(exported))
            run("silence", "query")
            outputs[name] = [(args, _mask(text)) for args, text in runs]
    pairs = list(zip(outputs["alertmanager"], outputs["vigil"], strict=True))
    differ = [
        f"amtool {a}:\n--- alertmanager\n{r}--- vigil\n{o}" for (a, r), (_, o) in pairs if r != o
    ]
    summary(
        f"amtool 0.25 against vigil: {len(pairs) - len(differ)}/{len(pairs)} commands print "
        "the same as against Alertmanager"
    )
    assert not differ, "\n".join(differ)
