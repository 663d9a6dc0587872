"""Real Loki clients from PyPI push to a real HTTP server serving vigil's Loki push routes:
`python-logging-loki` (the v1 API and the legacy `/api/prom/push` one) and
`loki-logger-handler` (gzip, structured metadata). Each request a client sent is captured as
sent and decoded here independently; the store must hold exactly those entries (line,
labels, ns timestamps, structured metadata), plus the `service_name` and `detected_level`
Loki 3 derives."""

from __future__ import annotations

import calendar
import datetime
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import logging_loki
import pytest
from loki_logger_handler.loki_logger_handler import LokiLoggerHandler

from tests.logs.ingest.stores import Row, Sent, as_sent, serving, stored
from vigil.logs import MemoryLogStore
from vigil.model import Labels
from vigil.web.ingest.loki import LokiPush

pytestmark = pytest.mark.slow

LOKI_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error"}


def _rfc3339_ns(text: str) -> int:
    moment = datetime.datetime.fromisoformat(text)
    whole = moment.replace(microsecond=0)
    return calendar.timegm(whole.utctimetuple()) * 10**9 + moment.microsecond * 1000


def _expected(documents: list[Any]) -> dict[Labels, list[Row]]:
    """What the documents say, grouped by stream and in time order (push order on ties)."""
    rows: dict[Labels, list[Row]] = {}
    for document in documents:
        for stream in document["streams"]:
            if "labels" in stream:  # the legacy form: {a="b",c="d"} written by the client
                pairs = [p.split("=", 1) for p in stream["labels"][1:-1].split(",")]
                labels = {k: json.loads(v) for k, v in pairs}
                values = [(_rfc3339_ns(e["ts"]), e["line"], {}) for e in stream["entries"]]
            else:
                labels = stream["stream"]
                values = [(int(v[0]), v[1], v[2] if len(v) > 2 else {}) for v in stream["values"]]
            key = Labels.from_dict(labels)
            rows.setdefault(key, []).extend(
                (t, line.encode(), Labels.from_dict(meta)) for t, line, meta in values
            )
    return {labels: sorted(found, key=lambda row: row[0]) for labels, found in rows.items()}


def _without_level(store: MemoryLogStore) -> tuple[dict[Labels, list[Row]], list[str]]:
    found = stored(store)
    levels = [m.get("detected_level") for rows in found.values() for _, _, m in rows]
    return as_sent(found), levels


@contextmanager
def _logger(handler: logging.Handler) -> Iterator[logging.Logger]:
    logger = logging.getLogger(f"shop.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()


@pytest.mark.parametrize(("version", "path"), [("1", "/loki/api/v1/push"), ("0", "/api/prom/push")])
def test_python_logging_loki(version: str, path: str) -> None:
    store = MemoryLogStore()
    with serving(LokiPush(lambda: store).routes()) as url:
        handler = logging_loki.LokiHandler(
            url=url + path, tags={"application": "shop"}, version=version
        )
        sent = Sent(handler.emitter.session)
        with _logger(handler) as logger:
            logger.info("order %s paid", 17)
            logger.warning("stock low: ünïcode ✓", extra={"tags": {"user-id": "42"}})
            logger.error("payment failed\nsecond line of the trace")
            logger.debug('quotes " and \\ backslashes')
    statuses = [status for _, _, status in sent.bodies]
    assert statuses == [204] * 4
    got, levels = _without_level(store)
    assert got == _expected(sent.documents())
    assert sorted(levels) == ["debug", "error", "info", "warning"]
    assert {labels.get("service_name") for labels in stored(store)} == {"shop"}


def test_loki_logger_handler_gzip_and_structured_metadata() -> None:
    store = MemoryLogStore()
    with serving(LokiPush(lambda: store).routes()) as url:
        handler = LokiLoggerHandler(
            url=url + "/loki/api/v1/push",
            labels={"application": "billing", "environment": "test"},
            label_keys={"tenant": "tenant"},
            timeout=3600,
            compressed=True,
            enable_structured_loki_metadata=True,
            loki_metadata={"service_version": "1.2.3"},
            loki_metadata_keys=["trace_id"],
        )
        sent = Sent(handler.request.session)
        with _logger(handler) as logger:
            logger.info("invoice sent", extra={"trace_id": "4bf92f3577b34da6", "tenant": "acme"})
            logger.warning("retrying ✓", extra={"trace_id": "00f067aa0ba902b7"})
            logger.error("gave up", extra={"loki_metadata": {"attempt": 3}})
            logger.debug("cache miss")
            handler.flush_event.set()
            sent.wait(1)
    assert [status for _, _, status in sent.bodies] == [204]
    assert sent.bodies[0][1] == "gzip"
    got, levels = _without_level(store)
    want = _expected(sent.documents())
    assert got == want
    lines = [json.loads(line) for rows in want.values() for _, line, _ in rows]
    assert sorted(levels) == sorted(LOKI_LEVELS[line["level"]] for line in lines)
    assert {labels.get("service_name") for labels in stored(store)} == {"billing"}
    assert {m.get("trace_id") for rows in got.values() for _, _, m in rows} >= {
        "4bf92f3577b34da6",
        "00f067aa0ba902b7",
    }
