"""The Elasticsearch API vigil serves to shippers: the version document and preflight answers
(all with X-Elastic-Product), `_bulk` documents mapped to log entries with per-item results,
bad bodies, entries the store refuses (their items fail, the others are stored) and a store
that cannot write."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.logs.ingest.stores import FullDisk, Row, stored
from vigil.logs import LogAppender, MemoryLogStore
from vigil.logs.ingest.elasticsearch import BulkOptions
from vigil.logs.store import LogStore
from vigil.model import Labels
from vigil.web.ingest.elasticsearch import ElasticsearchAPI

NOW = 1_800_000_000_000_000_000
NDJSON = {"Content-Type": "application/x-ndjson"}
VENDOR = {
    "Content-Type": "application/vnd.elasticsearch+x-ndjson; compatible-with=9",
    "Accept": "application/vnd.elasticsearch+json; compatible-with=9",
}


def _client(store: LogAppender, options: BulkOptions = BulkOptions()) -> TestClient:  # noqa: B008
    api = ElasticsearchAPI(lambda: store, options, now_ns=lambda: NOW)
    return TestClient(Starlette(routes=list(api.routes())))


def _ndjson(*lines: Any) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/", 200, {"version": {"number": "8.17.0"}, "tagline": "You Know, for Search"}),
        ("GET", "/_license", 200, {"license": {"status": "active", "type": "basic"}}),
        ("GET", "/_ilm/policy/logstash-policy", 200, {}),
        ("PUT", "/_ilm/policy/logstash-policy", 200, {"acknowledged": True}),
        ("GET", "/_index_template/logs", 200, {"index_templates": []}),
        ("PUT", "/_index_template/logs", 200, {"acknowledged": True}),
        ("PUT", "/_template/logstash", 200, {"acknowledged": True}),
        ("GET", "/_ingest/pipeline/filebeat-8", 200, {}),
        ("PUT", "/_ingest/pipeline/filebeat-8", 200, {"acknowledged": True}),
        ("GET", "/_nodes", 200, {"cluster_name": "vigil"}),
        ("GET", "/_nodes/http", 200, {"cluster_name": "vigil"}),
        ("PUT", "/_logstash/pipeline/main", 200, {"acknowledged": True}),
        ("GET", "/_search", 404, None),
        ("GET", "/_bulk", 405, None),
    ],
)
def test_preflights_are_answered_harmlessly(
    method: str, path: str, status: int, body: dict[str, Any] | None
) -> None:
    response = _client(MemoryLogStore()).request(method, "/elasticsearch" + path)
    assert (response.status_code, response.headers["X-Elastic-Product"]) == (
        status,
        "Elasticsearch",
    )
    if body is not None:
        got = response.json()
        assert {k: _subset(got.get(k), v) for k, v in body.items()} == body


def _subset(got: Any, want: Any) -> Any:
    if isinstance(want, dict) and isinstance(got, dict):
        return {k: _subset(got.get(k), v) for k, v in want.items()}
    return got


def test_head_and_vendor_media_types() -> None:
    client = _client(MemoryLogStore())
    head = client.head("/elasticsearch/", headers={"Accept": VENDOR["Accept"]})
    assert (head.status_code, head.content, head.headers["Content-Type"]) == (
        200,
        b"",
        "application/vnd.elasticsearch+json;compatible-with=9",
    )


def _meta(**pairs: str) -> Labels:
    return Labels.from_dict(pairs)


BULKS: list[
    tuple[str, str, dict[str, str], bytes, list[tuple[str, int]], dict[Labels, list[Row]]]
] = [
    (
        "index and create, index from the action or the URL",
        "/app-logs/_bulk",
        NDJSON,
        _ndjson(
            {"index": {"_index": "web", "_id": "1"}},
            {
                "@timestamp": "2024-05-01T12:00:00.123456789Z",
                "message": "GET / 200",
                "host": {"name": "vm1", "ip": ["10.0.0.1"]},
                "level": "info",
                "bytes": 512,
                "ok": True,
                "empty": None,
            },
            {"create": {}},
            {"@timestamp": 1714564800000, "message": "ERROR boom ✓", "user.id": "42"},
        ),
        [("index", 201), ("create", 201)],
        {
            _meta(index="web", service_name="unknown_service"): [
                (
                    1714564800123456789,
                    b"GET / 200",
                    _meta(
                        host_name="vm1",
                        host_ip='["10.0.0.1"]',
                        level="info",
                        bytes="512",
                        ok="true",
                        detected_level="info",
                    ),
                )
            ],
            _meta(index="app-logs", service_name="unknown_service"): [
                (
                    1714564800000000000,
                    "ERROR boom ✓".encode(),
                    _meta(user_id="42", detected_level="error"),
                )
            ],
        },
    ),
    (
        "no time: now; no message: the document as JSON; offsets; vendor type",
        "/_bulk",
        VENDOR,
        _ndjson(
            {"index": {"_index": "a"}},
            {"event": "x", "n": 1},
            {"index": {"_index": "a"}},
            {"@timestamp": "2024-05-01T14:00:00+02:00", "message": "m"},
        ),
        [("index", 201), ("index", 201)],
        {
            _meta(index="a", service_name="unknown_service"): [
                (1714564800000000000, b"m", _meta(detected_level="unknown")),
                (NOW, b'{"event":"x","n":1}', _meta(detected_level="unknown")),
            ]
        },
    ),
    (
        "failing items: update, delete, unreadable document, bad time",
        "/_bulk",
        NDJSON,
        _ndjson(
            {"delete": {"_index": "a", "_id": "1"}},
            {"update": {"_index": "a", "_id": "1"}},
            {"doc": {"x": 1}},
            {"index": {"_index": "a"}},
            [1, 2],
            {"index": {"_index": "a"}},
            {"@timestamp": "yesterday", "message": "x"},
            {"index": {"_index": "a"}},
            {"message": "kept"},
        )
        + b'{"index": {"_index": "a"}}\n{"message": \n',
        [
            ("delete", 400),
            ("update", 400),
            ("index", 400),
            ("index", 400),
            ("index", 201),
            ("index", 400),
        ],
        {
            _meta(index="a", service_name="unknown_service"): [
                (NOW, b"kept", _meta(detected_level="unknown"))
            ]
        },
    ),
]


@pytest.mark.parametrize(
    ("name", "path", "headers", "body", "items", "want"), BULKS, ids=[b[0] for b in BULKS]
)
def test_bulk_stores_documents_and_answers_per_item(
    name: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    items: list[tuple[str, int]],
    want: dict[Labels, list[Row]],
) -> None:
    store = MemoryLogStore()
    response = _client(store).post("/elasticsearch" + path, content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    got_items = [
        (action, result["status"]) for item in answer["items"] for action, result in item.items()
    ]
    assert (got_items, answer["errors"], stored(store)) == (
        items,
        any(status != 201 for _, status in items),
        want,
    )


def test_failed_items_say_why() -> None:
    body = _ndjson(
        {"delete": {"_index": "a", "_id": "7"}}, {"index": {"_index": "a"}}, {"@timestamp": True}
    )
    answer = (
        _client(MemoryLogStore()).post("/elasticsearch/_bulk", content=body, headers=NDJSON).json()
    )
    assert answer["items"] == [
        {
            "delete": {
                "_index": "a",
                "_id": "7",
                "status": 400,
                "error": {
                    "type": "action_request_validation_exception",
                    "reason": "vigil stores logs: only index and create actions are supported, not delete",
                },
            }
        },
        {
            "index": {
                "_index": "a",
                "_id": answer["items"][1]["index"]["_id"],
                "status": 400,
                "error": {
                    "type": "document_parsing_exception",
                    "reason": "failed to parse field [@timestamp]: not a date",
                },
            }
        },
    ]


def test_stream_fields_and_message_field_are_configurable() -> None:
    store = MemoryLogStore()
    options = BulkOptions(message_fields=("msg", "message"), stream_fields=("app", "host.name"))
    body = _ndjson(
        {"index": {"_index": "x"}},
        {"msg": "hello", "app": "shop", "host.name": "vm1", "message": "m"},
    )
    assert (
        _client(store, options)
        .post("/elasticsearch/_bulk", content=body, headers=NDJSON)
        .status_code
        == 200
    )
    assert stored(store) == {
        _meta(index="x", app="shop", host_name="vm1", service_name="shop"): [
            (NOW, b"hello", _meta(message="m", detected_level="unknown"))
        ]
    }


BAD = [
    ("action not JSON", b"{index\n{}\n", 400, "line 1: the action is not JSON"),
    ("unknown action", b'{"upsert": {}}\n{}\n', 400, "unknown action [upsert]"),
    ("action without document", b'{"index": {"_index": "a"}}\n', 400, "has no document"),
    ("invalid UTF-8", b'{"index": {"_index": "\xff"}}\n{}\n', 400, "the action is not JSON"),
]


@pytest.mark.parametrize(("name", "body", "status", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_bodies_are_refused_whole(name: str, body: bytes, status: int, reason: str) -> None:
    store = MemoryLogStore()
    response = _client(store).post("/elasticsearch/_bulk", content=body, headers=NDJSON)
    error = response.json()
    assert (
        response.status_code,
        error["status"],
        reason in error["error"]["reason"],
        stored(store),
    ) == (
        status,
        status,
        True,
        {},
    )
    assert response.headers["X-Elastic-Product"] == "Elasticsearch"


def test_unsupported_media_type_and_gzip() -> None:
    store = MemoryLogStore()
    client = _client(store)
    refused = client.post(
        "/elasticsearch/_bulk", content=b"x", headers={"Content-Type": "text/csv"}
    )
    body = gzip.compress(_ndjson({"index": {"_index": "a"}}, {"message": "zipped"}))
    zipped = client.post(
        "/elasticsearch/_bulk", content=body, headers={**NDJSON, "Content-Encoding": "gzip"}
    )
    assert (refused.status_code, refused.json()["error"]["type"], zipped.status_code) == (
        406,
        "media_type_header_exception",
        200,
    )
    assert [line for rows in stored(store).values() for _, line, _ in rows] == [b"zipped"]


def test_documents_the_store_refuses_fail_their_items(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path / "logs", clock=lambda: NOW / 1e9)
    try:
        body = _ndjson(
            {"index": {"_index": "old"}},
            {"@timestamp": 1000, "message": "from 1970"},
            {"index": {"_index": "new"}},
            {"message": "now"},
        )
        answer = _client(store).post("/elasticsearch/_bulk", content=body, headers=NDJSON).json()
        statuses = [
            (r["status"], r.get("error", {}).get("type"))
            for i in answer["items"]
            for r in i.values()
        ]
        assert (answer["errors"], statuses) == (
            True,
            [(400, "illegal_argument_exception"), (201, None)],
        )
        assert "too old" in answer["items"][0]["index"]["error"]["reason"]
    finally:
        store.close()


def test_a_store_that_cannot_write_answers_503() -> None:
    body = _ndjson({"index": {"_index": "a"}}, {"message": "x"})
    response = _client(FullDisk()).post("/elasticsearch/_bulk", content=body, headers=NDJSON)
    assert (response.status_code, response.headers["Retry-After"], response.json()["status"]) == (
        503,
        "30",
        503,
    )
