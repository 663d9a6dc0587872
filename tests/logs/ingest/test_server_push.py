"""End to end: a real `vigil server` takes Loki pushes (JSON and protobuf + snappy) and OTLP
logs on its main port and on --loki.listen-address, refuses an entry older than its limit
naming it (the rest of that push stored), and after it stops, its log store on disk holds
exactly what was accepted (acknowledged pushes are in the WAL). Elasticsearch clients write
both to `--elasticsearch.listen-address` and under /elasticsearch/ on the main port; `logger`
sends to `--syslog.listen-address`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import cramjam
import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch, helpers

from tests.conftest import CONFORMANCE, PATIENCE_S, free_port, peer, running
from tests.logs.ingest.stores import ANY_STREAM, Row
from vigil.logs.ingest.logproto_pb2 import EntryAdapter, PushRequest, StreamAdapter
from vigil.logs.store import LogStore
from vigil.model import Labels

pytestmark = pytest.mark.slow


def _on_disk(path: Path) -> dict[Labels, list[Row]]:
    store = LogStore.open(path)
    try:
        querier = store.querier(0, 2**63 - 1)
        found: dict[Labels, list[Row]] = {}
        for entries in querier.select(ANY_STREAM):
            meta = entries.metadata or (Labels(),) * len(entries)
            found.setdefault(entries.labels, []).extend(
                zip(entries.timestamps.tolist(), list(entries.lines), meta, strict=True)
            )
        return found
    finally:
        store.close()


def test_pushes_to_a_real_server_are_on_disk(tmp_path: Path) -> None:
    port, loki_port, es_port, syslog_port = (free_port() for _ in range(4))
    server = [
        sys.executable, "-m", "vigil", "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--loki.listen-address=127.0.0.1:{loki_port}",
        f"--elasticsearch.listen-address=127.0.0.1:{es_port}",
        "--elasticsearch.stream-fields=app",
        f"--syslog.listen-address=127.0.0.1:{syslog_port}",
        "--agent.disable",
        "--rules.default.disable",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    t0 = time.time_ns() - 60 * 10**9
    request = PushRequest(
        streams=[StreamAdapter(labels='{job="proto"}', entries=[EntryAdapter(line="from proto")])]
    )
    request.streams[0].entries[0].timestamp.seconds = t0 // 10**9
    json_body = {
        "streams": [
            {"stream": {"app": "web"}, "values": [[str(t0), "level=warn from json", {"k": "v"}]]},
            {"stream": {"app": "old"}, "values": [["1", "from 1970"]]},
        ]
    }
    otlp = orjson.loads((CONFORMANCE / "otlp" / "logs.json").read_bytes())
    otlp["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = str(t0 + 1)
    with running(server, f"{url}/-/ready"):
        answers = [
            httpx.post(f"{url}/loki/api/v1/push", content=orjson.dumps(json_body),
                       headers={"Content-Type": "application/json"}),
            httpx.post(f"http://127.0.0.1:{loki_port}/loki/api/v1/push",
                       content=bytes(cramjam.snappy.compress_raw(request.SerializeToString())),
                       headers={"Content-Type": "application/x-protobuf"}),
            httpx.post(f"{url}/otlp/v1/logs",
                       content=orjson.dumps(otlp),
                       headers={"Content-Type": "application/json"}),
        ]  # fmt: skip
        client = Elasticsearch(f"http://127.0.0.1:{es_port}", request_timeout=PATIENCE_S)
        bulk = helpers.bulk(client, [{"_index": "es", "message": "from es", "app": "shop"}])
        client.close()
        answers.append(
            httpx.post(
                f"{url}/elasticsearch/_bulk",
                content=b'{"index": {"_index": "main"}}\n{"message": "from main port"}\n',
                headers={"Content-Type": "application/x-ndjson"},
            )
        )
        syslog = [peer("logger"), "--rfc5424", "-T", "-n", "127.0.0.1", "-P", str(syslog_port),
                  "-t", "shop", "-p", "user.err", "over syslog"]  # fmt: skip
        subprocess.run(syslog, check=True)
        deadline = time.monotonic() + PATIENCE_S
        while "syslog" not in httpx.get(f"{url}/loki/api/v1/label/job/values").json()["data"]:
            assert time.monotonic() < deadline, "the syslog message was not stored"
            time.sleep(0.05)
        assert bulk == (1, [])
        assert [a.status_code for a in answers] == [400, 204, 200, 200]
        assert answers[3].headers["X-Elastic-Product"] == "Elasticsearch"
        assert answers[0].text.startswith(
            'entry for stream \'{app="old", service_name="old"}\' has timestamp too old'
        )
        assert answers[0].text.endswith("total ignored: 1 out of 2\n")
    found = _on_disk(tmp_path / "data" / "logs")
    syslog_stream = Labels.from_dict({"job": "syslog", "host": socket.gethostname(), "app": "shop"})
    syslog_time = found[syslog_stream][0][0]
    es_time = found[Labels.from_dict({"index": "es", "app": "shop", "service_name": "shop"})][0][0]
    main_time = found[Labels.from_dict({"index": "main", "service_name": "unknown_service"})][0][0]
    assert t0 < es_time <= main_time <= time.time_ns()
    assert {labels: [(t, line) for t, line, _ in rows] for labels, rows in found.items()} == {
        Labels.from_dict({"app": "web", "service_name": "web"}): [(t0, b"level=warn from json")],
        Labels.from_dict({"job": "proto", "service_name": "proto"}): [
            (t0 // 10**9 * 10**9, b"from proto")
        ],
        Labels.from_dict({"service_name": "my.service"}): [(t0 + 1, b"Example log record")],
        Labels.from_dict({"index": "es", "app": "shop", "service_name": "shop"}): [
            (es_time, b"from es")
        ],
        Labels.from_dict({"index": "main", "service_name": "unknown_service"}): [
            (main_time, b"from main port")
        ],
        syslog_stream: [(syslog_time, b"over syslog")],
    }
    web = found[Labels.from_dict({"app": "web", "service_name": "web"})]
    assert web[0][2] == Labels.from_dict({"k": "v", "detected_level": "warn"})
