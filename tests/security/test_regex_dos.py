"""Regexes that backtrack exponentially in Python's `re` (`(.|.)*x` on a 40-character value:
2^40 steps) answer at once, as in Prometheus and Alertmanager, which use RE2; the process keeps
serving meanwhile. Live `vigil server` / `vigil alertmanager` beside the real peers."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cramjam
import httpx
import pytest

from tests.conftest import free_port, peer, running
from tests.notify.capture import HTTPCapture, http_capture
from tests.security.conftest import LiveServer, health_watched
from vigil.remote.prompb import Label, Sample, TimeSeries, WriteRequest

pytestmark = pytest.mark.slow

LONG = "a" * 40
EVIL = "(.|.)*x"
BOUND = 10.0  # seconds: generous for a loaded machine; Python's re would take years
VIGIL_SERVER = [sys.executable, "-m", "vigil", "server"]


@contextmanager
def _prometheus_and_vigil(tmp_path: Path) -> Iterator[dict[str, LiveServer]]:
    """Both servers, each holding one pushed series whose label values are 40 characters."""
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    series = TimeSeries(
        labels=[Label(name="__name__", value=f"m_{LONG}"), Label(name="path", value=LONG)],
        samples=[Sample(value=1.0, timestamp=int(time.time() * 1000))],
    )
    body = cramjam.snappy.compress_raw(WriteRequest(timeseries=[series]).SerializeToString())
    with ExitStack() as stack:
        servers = {}
        for name in ("prometheus", "vigil"):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            program = [peer("prometheus")] if name == "prometheus" else VIGIL_SERVER
            args = [
                *program,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / name}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-remote-write-receiver",
            ]
            proc = stack.enter_context(running(args, f"{base}/-/ready", 60))
            pushed = httpx.post(
                f"{base}/api/v1/write",
                content=bytes(body),
                headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
                timeout=10,
            )
            assert pushed.status_code == 204, (name, pushed.text)
            servers[name] = LiveServer(base, proc.pid)
        yield servers


def _timed_get(url: str, **params: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url, params=params, timeout=BOUND * 3)
    return response, time.monotonic() - started


QUERIES = [
    f'{{__name__=~"{EVIL}"}}',
    f'{{path=~"{EVIL}"}}',
    f'{{__name__=~"m_.*", path!~"{EVIL}"}}',
    '{__name__=~".+", path=~"a(.|.)*a"}',
    f'label_replace({{path!=""}}, "a", "$1", "path", "{EVIL}")',
    'label_replace({path!=""}, "a", "$1", "path", "((.|.)*)")',
]


def test_promql_regexes_answer_fast_like_prometheus(tmp_path: Path) -> None:
    results: dict[str, list[Any]] = {}
    with _prometheus_and_vigil(tmp_path) as servers, health_watched(servers["vigil"]) as health:
        for name, server in servers.items():
            for query in QUERIES:
                response, took = _timed_get(f"{server.url}/api/v1/query", query=query)
                assert response.status_code == 200, (name, query, response.text)
                assert took < BOUND, (name, query, took)
                result = response.json()["data"]["result"]
                results.setdefault(name, []).append([r["metric"] for r in result])
    assert results["vigil"] == results["prometheus"]
    assert [len(r) for r in results["vigil"]] == [0, 0, 1, 1, 1, 1]
    assert max(seconds for _, seconds in health.answers) < BOUND
    assert {status for status, _ in health.answers} == {200}


def test_backreferences_and_lookaheads_are_refused_like_prometheus(tmp_path: Path) -> None:
    with _prometheus_and_vigil(tmp_path) as servers:
        for query in ('{path=~"(a)\\\\1"}', '{path=~"(?=a)"}'):
            answers = {
                name: httpx.get(f"{s.url}/api/v1/query", params={"query": query}, timeout=10)
                for name, s in servers.items()
            }
            assert {n: r.status_code for n, r in answers.items()} == {
                "prometheus": 400,
                "vigil": 400,
            }
            assert "regex" in answers["vigil"].json()["error"]


def _alertmanager_args(name: str, config: Path, storage: Path, port: int) -> list[str]:
    common = [
        f"--config.file={config}",
        f"--storage.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    if name == "alertmanager":
        return [peer("prometheus-alertmanager"), *common, "--cluster.listen-address="]
    return [sys.executable, "-m", "vigil", "alertmanager", *common]


@contextmanager
def _alertmanagers(tmp_path: Path) -> Iterator[dict[str, tuple[LiveServer, HTTPCapture]]]:
    with ExitStack() as stack:
        out = {}
        for name in ("alertmanager", "vigil"):
            capture = stack.enter_context(http_capture())
            config = tmp_path / f"{name}.yml"
            config.write_text(
                "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n"
                "  group_interval: 2s\n  repeat_interval: 1h\n"
                f"receivers:\n- name: hook\n  webhook_configs: [{{url: '{capture.url()}'}}]\n"
            )
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            args = _alertmanager_args(name, config, tmp_path / name, port)
            proc = stack.enter_context(running(args, f"{base}/-/ready"))
            out[name] = (LiveServer(base, proc.pid), capture)
        yield out


def _rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_evil_silence_and_filter_do_not_freeze_alertmanager(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "severity", "value": "(.|.|.|.)*x", "isRegex": True}],
        "startsAt": _rfc3339(now),
        "endsAt": _rfc3339(now + timedelta(hours=1)),
        "createdBy": "attacker",
        "comment": "exponential in a backtracking engine",
    }
    alert = {"labels": {"alertname": LONG, "severity": LONG}}
    with _alertmanagers(tmp_path) as bases, health_watched(bases["vigil"][0]) as health:
        filtered = {}
        for name, (server, _) in bases.items():
            base = server.url
            httpx.post(f"{base}/api/v2/silences", json=silence, timeout=10).raise_for_status()
            httpx.post(f"{base}/api/v2/alerts", json=[alert], timeout=10).raise_for_status()
            response, took = _timed_get(f"{base}/api/v2/alerts", filter=f'alertname=~"{EVIL}"')
            assert response.status_code == 200 and took < BOUND, (name, took)
            filtered[name] = response.json()
        # The silence does not match: the group flush (1 s) must notify, not freeze.
        sent = {n: json.loads(c.wait(1, 15)[0].body) for n, (_, c) in bases.items()}
        response, took = _timed_get(f"{bases['vigil'][0].url}/api/v2/alerts/groups")
        assert response.status_code == 200 and took < BOUND
    assert max(seconds for _, seconds in health.answers) < BOUND
    assert {status for status, _ in health.answers} == {200}
    assert filtered == {"alertmanager": [], "vigil": []}
    assert [a["labels"] for a in sent["vigil"]["alerts"]] == [
        a["labels"] for a in sent["alertmanager"]["alerts"]
    ]


def test_silence_with_a_backreference_is_refused_like_alertmanager(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "severity", "value": "(a)\\1", "isRegex": True}],
        "startsAt": _rfc3339(now),
        "endsAt": _rfc3339(now + timedelta(hours=1)),
        "createdBy": "t",
        "comment": "RE2 has no backreferences",
    }
    with _alertmanagers(tmp_path) as bases:
        statuses = {
            name: httpx.post(f"{s.url}/api/v2/silences", json=silence, timeout=10).status_code
            for name, (s, _) in bases.items()
        }
    assert statuses == {"alertmanager": 400, "vigil": 400}
