"""`POST /loki/api/v1/push` and `/api/prom/push` into the log seam's fake: what each body form
stores (line, labels, ns timestamps, structured metadata, read back exactly), each kind of bad
body answered with the right status and a message saying what is wrong (nothing stored), a
push some of whose streams are refused (the rest stored, the answer names them), and a store
that cannot write answered 503 for a retry."""

from __future__ import annotations

import gzip
import time
import zlib
from pathlib import Path
from typing import Any

import cramjam
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.logs.ingest.stores import ANY_STREAM, FullDisk, Opening, stored
from vigil.logs import LogAppender, MemoryLogStore
from vigil.logs.ingest import loki_json
from vigil.logs.ingest.discovery import Discovery
from vigil.logs.ingest.logproto_pb2 import (
    EntryAdapter,
    LabelPairAdapter,
    PushRequest,
    StreamAdapter,
)
from vigil.logs.store import LogStore
from vigil.model import Labels
from vigil.web.ingest.endpoint import IngestLimits
from vigil.web.ingest.loki import LokiPush

PUSH = "/loki/api/v1/push"
LEGACY = "/api/prom/push"
JSON = {"Content-Type": "application/json"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}
T0 = 1_700_000_000_123_456_789
LIMITS = IngestLimits()


def _client(store: LogAppender, limits: IngestLimits = LIMITS) -> TestClient:
    return TestClient(Starlette(routes=list(LokiPush(lambda: store, limits=limits).routes())))


def _labels(**pairs: str) -> Labels:
    return Labels.from_dict(pairs)


def _level(level: str, **meta: str) -> Labels:
    return Labels.from_dict({**meta, "detected_level": level})


def _proto(streams: list[tuple[str, list[tuple[int, str, dict[str, str]]]]]) -> bytes:
    request = PushRequest(
        streams=[
            StreamAdapter(
                labels=labels,
                entries=[
                    EntryAdapter(
                        line=line,
                        structuredMetadata=[
                            LabelPairAdapter(name=k, value=v) for k, v in meta.items()
                        ],
                    )
                    for _, line, meta in entries
                ],
            )
            for labels, entries in streams
        ]
    )
    for stream, (_, entries) in zip(request.streams, streams, strict=True):
        for entry, (ns, _, _) in zip(stream.entries, entries, strict=True):
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(ns, 10**9)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


V1_BODY = {
    "streams": [
        {
            "stream": {"app": "web", "env": "prod"},
            "values": [
                [str(T0 + 2), "second ERROR line"],
                [str(T0), "first line ✓", {"trace_id": "abc", "user": "42"}],
                [str(T0 + 2), "same time, pushed later"],
            ],
        },
        {"stream": {"job": "db", "service_name": "pg"}, "values": [[str(-5), "before 1970"]]},
    ]
}
V1_STORED = {
    _labels(app="web", env="prod", service_name="web"): [
        (T0, "first line ✓".encode(), _level("unknown", trace_id="abc", user="42")),
        (T0 + 2, b"second ERROR line", _level("error")),
        (T0 + 2, b"same time, pushed later", _level("unknown")),
    ],
    _labels(job="db", service_name="pg"): [(-5, b"before 1970", _level("unknown"))],
}


@pytest.mark.parametrize(
    ("name", "path", "headers", "body", "want"),
    [
        ("v1 JSON", PUSH, JSON, orjson.dumps(V1_BODY), V1_STORED),
        (
            "v1 JSON, gzip",
            PUSH,
            {**JSON, "Content-Encoding": "gzip"},
            gzip.compress(orjson.dumps(V1_BODY)),
            V1_STORED,
        ),
        (
            "v1 JSON, deflate, charset parameter",
            PUSH,
            {"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "deflate"},
            zlib.compress(orjson.dumps(V1_BODY)),
            V1_STORED,
        ),
        (
            "protobuf",
            PUSH,
            PROTOBUF,
            _proto(
                [
                    (
                        '{app="web", env="prod"}',
                        [
                            (T0 + 2, "second ERROR line", {}),
                            (T0, "first line ✓", {"trace_id": "abc", "user": "42"}),
                            (T0 + 2, "same time, pushed later", {}),
                        ],
                    ),
                    ('{job="db",service_name="pg"}', [(-5, "before 1970", {})]),
                ]
            ),
            V1_STORED,
        ),
        (
            "protobuf without a content type",
            PUSH,
            {},
            _proto([('{app="web"}', [(T0, "x", {})])]),
            {_labels(app="web", service_name="web"): [(T0, b"x", _level("unknown"))]},
        ),
        (
            "legacy JSON",
            LEGACY,
            JSON,
            orjson.dumps(
                {
                    "streams": [
                        {
                            "labels": '{app="web", level="warn"}',
                            "entries": [
                                {"ts": "2023-11-14T22:13:20.123456789Z", "line": "b"},
                                {"ts": "2023-11-14T23:13:20.123456+01:00", "line": "a"},
                            ],
                        }
                    ]
                }
            ),
            {
                _labels(app="web", level="warn", service_name="web"): [
                    (T0 - 789, b"a", _level("warn")),
                    (T0, b"b", _level("warn")),
                ]
            },
        ),
        (
            "legacy path, protobuf",
            LEGACY,
            PROTOBUF,
            _proto([('{app="web"}', [(T0, "x", {})])]),
            {_labels(app="web", service_name="web"): [(T0, b"x", _level("unknown"))]},
        ),
        ("no streams", PUSH, JSON, b'{"streams": []}', {}),
        (
            "empty values",
            PUSH,
            JSON,
            b'{"streams": [{"stream": {"a": "b"}, "values": []}]}',
            {},
        ),
    ],
)
def test_push_stores_what_was_sent(
    name: str, path: str, headers: dict[str, str], body: bytes, want: dict[Labels, Any]
) -> None:
    store = MemoryLogStore()
    response = _client(store).post(path, content=body, headers=headers)
    assert (response.status_code, response.text, stored(store)) == (204, "", want), name


def _v1(*values: Any, stream: Any = None) -> bytes:
    labels = {"app": "web"} if stream is None else stream
    return orjson.dumps({"streams": [{"stream": labels, "values": list(values)}]})


BAD_BODIES = [
    ("malformed JSON", PUSH, JSON, b'{"streams": [', "body is not valid JSON"),
    ("not a push request", PUSH, JSON, b"[1, 2]", 'expected {"streams": [...]}'),
    ("stream not an object", PUSH, JSON, b'{"streams": [3]}', "streams[0] is not an object"),
    ("labels not strings", PUSH, JSON, _v1(stream={"a": 1}), "the value of 'a' is a number"),
    ("timestamp a number", PUSH, JSON, _v1([T0, "x"]), "the timestamp is a number"),
    ("timestamp not digits", PUSH, JSON, _v1(["12:00", "x"]), "'12:00' is not a 64-bit integer"),
    ("timestamp past int64", PUSH, JSON, _v1(["9" * 19, "x"]), "is not a 64-bit integer"),
    ("timestamp in other digits", PUSH, JSON, _v1(["١٢٣", "x"]), "is not a 64-bit integer"),
    ("timestamp 2**63", PUSH, JSON, _v1(["9223372036854775808", "x"]), "not a 64-bit integer"),
    ("one timestamp empty", PUSH, JSON, _v1(["5", "a"], ["", "b"]), "'' is not a 64-bit"),
    ("line not a string", PUSH, JSON, _v1([str(T0), 5]), "the line is a number, not a string"),
    ("entry too short", PUSH, JSON, _v1([str(T0)]), "values[0]: an entry is"),
    ("metadata not strings", PUSH, JSON, _v1([str(T0), "x", {"k": 1}]), "the value of 'k'"),
    ("invalid UTF-8 in JSON", PUSH, JSON, b'{"streams": [{"stream": {"a": "\xff"}}]}', "UTF-8"),
    (
        "legacy bad timestamp",
        LEGACY,
        JSON,
        b'{"streams": [{"labels": "{a=\\"b\\"}", "entries": [{"ts": "yesterday", "line": "x"}]}]}',
        "is not RFC 3339",
    ),
    (
        "legacy bad labels",
        LEGACY,
        JSON,
        b'{"streams": [{"labels": "a=b", "entries": []}]}',
        "streams[0].labels: 'a=b': parse error at line 1, col 1",
    ),
    ("not snappy", PUSH, PROTOBUF, b"\xff\xff\xff\xff\xff not snappy", "not snappy-compressed"),
    (
        "truncated protobuf",
        PUSH,
        PROTOBUF,
        bytes(
            cramjam.snappy.compress_raw(
                cramjam.snappy.decompress_raw(_proto([('{a="b"}', [(T0, "line", {})])])).read()[:-3]
            )
        ),
        "not a valid logproto.PushRequest",
    ),
    (
        "invalid UTF-8 in protobuf",
        PUSH,
        PROTOBUF,
        bytes(cramjam.snappy.compress_raw(b'\x0a\x0a\x0a\x08{a="\xff"}')),
        "not a valid logproto.PushRequest",
    ),
    ("protobuf labels not a set", PUSH, PROTOBUF, _proto([("app=web", [])]), "streams[0].labels"),
    (
        "gzip body truncated",
        PUSH,
        {**JSON, "Content-Encoding": "gzip"},
        gzip.compress(b"{}")[:-4],
        "gzip",
    ),
    ("unknown encoding", PUSH, {**JSON, "Content-Encoding": "br"}, b"{}", "Content-Encoding"),
]


@pytest.mark.parametrize(
    ("name", "path", "headers", "body", "message"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_bodies_are_refused_whole(
    name: str, path: str, headers: dict[str, str], body: bytes, message: str
) -> None:
    store = MemoryLogStore()
    client = _client(store)
    assert client.post(PUSH, content=_v1([str(T0), "kept"]), headers=JSON).status_code == 204
    before = stored(store)
    response = client.post(path, content=body, headers=headers)
    assert response.status_code in (400, 415), (name, response.text)
    assert message in response.text, name
    assert stored(store) == before, name


def test_bodies_over_the_limits_are_refused_with_413() -> None:
    store = MemoryLogStore()
    client = _client(store, IngestLimits(max_body_bytes=1000, max_decoded_bytes=4000))
    big = _v1([str(T0), "x" * 2000])
    bomb = gzip.compress(_v1([str(T0), "x" * 10_000]))
    snappy_bomb = _proto([('{a="b"}', [(T0, "x" * 10_000, {})])])
    size = len(cramjam.snappy.decompress_raw(snappy_bomb))
    got = [
        client.post(PUSH, content=big, headers=JSON),
        client.post(PUSH, content=bomb, headers={**JSON, "Content-Encoding": "gzip"}),
        client.post(PUSH, content=snappy_bomb, headers=PROTOBUF),
    ]
    assert [(r.status_code, r.text) for r in got] == [
        (413, "request body is larger than 1000 bytes"),
        (413, "request too large: more than 4000 bytes after gzip decompression (the limit)"),
        (413, f"request too large: {size} bytes decompressed, more than the limit of 4000"),
    ]
    assert stored(store) == {}


def test_refused_streams_are_named_and_the_others_stored() -> None:
    store = MemoryLogStore()
    body = orjson.dumps(
        {
            "streams": [
                {"stream": {}, "values": [[str(T0), "no labels"], [str(T0), "at all"]]},
                {"stream": {"app": "web"}, "values": [[str(T0), "kept"]]},
                {"stream": {"bad-name": "x"}, "values": [[str(T0), "refused"]]},
            ]
        }
    )
    response = _client(store).post(PUSH, content=body, headers=JSON)
    assert (response.status_code, response.text.splitlines()) == (
        400,
        [
            "error at least one label pair is required per stream",
            "error parsing labels '{bad-name=\"x\"}' with error: invalid label name 'bad-name' "
            "(a label name is [a-zA-Z_][a-zA-Z0-9_]*)",
            "total ignored: 3 out of 4",
        ],
    )
    assert stored(store) == {
        _labels(app="web", service_name="web"): [(T0, b"kept", _level("unknown"))]
    }


def test_a_store_that_cannot_write_answers_503_with_retry_after() -> None:
    response = _client(FullDisk()).post(PUSH, content=_v1([str(T0), "x"]), headers=JSON)
    assert (response.status_code, response.headers["Retry-After"], response.text) == (
        503,
        "30",
        "storage cannot write: No space left on device",
    )


def test_a_store_still_opening_answers_503_with_retry_after() -> None:
    response = _client(Opening()).post(PUSH, content=_v1([str(T0), "x"]), headers=JSON)
    assert (response.status_code, response.headers["Retry-After"], response.text) == (
        503,
        "30",
        "log store not ready: opening the log store in /data/logs",
    )


def test_the_stores_limits_are_named_in_the_answer(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path / "logs")
    try:
        now = time.time_ns()
        many = {f"l{i}": "v" for i in range(10_000)}
        body = orjson.dumps(
            {
                "streams": [
                    {"stream": many, "values": [[str(now), "10k labels"]]},
                    {"stream": {"app": "web"}, "values": [[str(now), "kept"]]},
                ]
            }
        )
        response = _client(store).post(PUSH, content=body, headers=JSON)
        querier = store.querier(0, 2**63 - 1)
        kept = [list(e.lines) for e in querier.select(ANY_STREAM)]
    finally:
        store.close()
    assert (response.status_code, "max_label_names_per_series" in response.text) == (400, True)
    assert response.text.endswith("total ignored: 1 out of 2\n")
    assert kept == [[b"kept"]]


def _decoded(body: bytes) -> list[tuple[Labels, list[int], list[bytes], object]]:
    push = loki_json.decode_v1(body, Discovery())
    return [(e.labels, e.timestamps.tolist(), list(e.lines), e.metadata) for e in push.streams]


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**63 - 1) | st.integers(0, 10**6),
            st.text(alphabet=st.sampled_from("ab é✓ERROR{=\n"), max_size=12),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_plain_values_decode_as_entries_checked_one_by_one(rows: list[tuple[int, str]]) -> None:
    """The column path (every entry a [ns, line] pair) against the per-entry path, which an
    empty metadata object on the first entry takes without changing what is stored."""
    plain = [[str(t), line] for t, line in rows]
    one_by_one = [[*plain[0], {}], *plain[1:]]
    assert _decoded(_v1(*plain)) == _decoded(_v1(*one_by_one))
