"""npm `winston-loki` (with `snappy`) pushes to a real HTTP server serving vigil's Loki push
routes, in protobuf + snappy and in JSON (with structured metadata). The node script captures
each body it sent and decodes it with winston-loki's own protobuf classes; the store must hold
exactly those entries, plus the `service_name` and `detected_level` Loki 3 derives."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from tests.conftest import PATIENCE_S, REPO
from tests.logs.ingest.stores import Row, as_sent, serving, stored
from vigil.logs import MemoryLogStore
from vigil.model import Labels
from vigil.web.ingest.loki import LokiPush

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tests" / "logs" / "winston_loki.cjs"
_PAIR = re.compile(r'(\w+)="([^"]*)"')


def _sent(url: str, fmt: str) -> list[Any]:
    done = subprocess.run(
        ["node", str(SCRIPT), url, fmt],
        env={**os.environ, "NODE_PATH": str(REPO / "ui" / "node_modules")},
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    requests: list[Any] = json.loads(done.stdout)["requests"]
    return requests


def _expected(requests: list[Any]) -> dict[Labels, list[Row]]:
    rows: dict[Labels, list[Row]] = {}
    for request in requests:
        for stream in request["streams"]:
            labels = stream["labels"]
            if isinstance(labels, str):  # protobuf: {level="info",app="shop-frontend",...}
                labels = dict(_PAIR.findall(labels))
            rows.setdefault(Labels.from_dict(labels), []).extend(
                (int(ns), line.encode(), Labels.from_dict(meta))
                for ns, line, meta in stream["entries"]
            )
    return {labels: sorted(found, key=lambda row: row[0]) for labels, found in rows.items()}


@pytest.mark.parametrize("fmt", ["protobuf", "json"])
def test_winston_loki(fmt: str) -> None:
    store = MemoryLogStore()
    with serving(LokiPush(lambda: store).routes()) as url:
        requests = _sent(url, fmt)
    kind = "application/json" if fmt == "json" else "application/x-protobuf"
    assert [(r["contentType"], r["status"]) for r in requests] == [(kind, "ok")]
    found = stored(store)
    got = as_sent(found)
    assert got == _expected(requests)
    assert sum(len(rows) for rows in got.values()) == 5
    assert {
        (labels.get("service_name"), labels.get("level"), m.get("detected_level"))
        for labels, rows in found.items()
        for _, _, m in rows
    } == {
        ("shop-frontend", "info", "info"),
        ("shop-frontend", "warn", "warn"),
        ("shop-frontend", "error", "error"),
        ("shop-frontend", "debug", "debug"),
    }
    if fmt == "json":
        metadata = {m.get("orderId") for rows in got.values() for _, _, m in rows}
        assert "o-17" in metadata
