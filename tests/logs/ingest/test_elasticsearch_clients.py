"""Real Elasticsearch clients write to vigil's Elasticsearch API served at the root of its
own port, as `--elasticsearch.listen-address` serves it: elasticsearch-py 9 (`helpers.bulk`,
PUT with the vendor media type, product check on every answer) and opensearch-py; every
document they sent is stored as a log entry (line, time, index label, metadata)."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch
from elasticsearch import helpers as es_helpers
from opensearchpy import OpenSearch
from opensearchpy import helpers as os_helpers

from tests.conftest import PATIENCE_S
from tests.logs.ingest.stores import Row, serving, stored
from vigil.logs import MemoryLogStore
from vigil.model import Labels
from vigil.web.ingest.elasticsearch import ElasticsearchAPI

pytestmark = pytest.mark.slow

T = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z
DOCS = [
    {
        "_index": "shop-logs",
        "_id": f"doc-{n}",
        "@timestamp": f"2024-05-01T12:00:0{n}.25Z",
        "message": f"order {n} paid ✓",
        "log": {"level": "warn" if n == 2 else "info"},
        "appointment_id": f"a-{n}",
    }
    for n in range(1, 4)
]
WANT: dict[Labels, list[Row]] = {
    Labels.from_dict({"index": "shop-logs", "service_name": "unknown_service"}): [
        (
            T + n * 10**9 + 250_000_000,
            f"order {n} paid ✓".encode(),
            Labels.from_dict(
                {
                    "log_level": "warn" if n == 2 else "info",
                    "appointment_id": f"a-{n}",
                    "detected_level": "unknown",
                }
            ),
        )
        for n in range(1, 4)
    ]
}


def test_elasticsearch_py_9_helpers_bulk() -> None:
    store = MemoryLogStore()
    with serving(ElasticsearchAPI(lambda: store).app()) as url:
        client = Elasticsearch(url, request_timeout=PATIENCE_S)
        info = client.info()
        ok, errors = es_helpers.bulk(client, DOCS)
        client.close()
    assert (info["version"]["number"][:2], ok, errors) == ("8.", 3, [])
    assert stored(store) == WANT


def test_opensearch_py_helpers_bulk() -> None:
    store = MemoryLogStore()
    with serving(ElasticsearchAPI(lambda: store).app()) as url:
        client = OpenSearch(url, timeout=PATIENCE_S)
        info = client.info()
        ok, errors = os_helpers.bulk(client, DOCS)
        client.close()
    assert (info["tagline"], ok, errors) == ("You Know, for Search", 3, [])
    assert stored(store) == WANT
