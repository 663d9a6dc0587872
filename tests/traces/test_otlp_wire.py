"""The protobuf decoder's attributes: each `KeyValue` as its bytes, read by a small parser
when written as SDKs write it and by opentelemetry-proto otherwise, give the value protobuf
itself reads, whatever the shape (fields out of order or repeated, unknown fields, long
varints); a value cut to the limit is counted at each occurrence; bad UTF-8 refuses the
request."""

from __future__ import annotations

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

from vigil.remote.otlp.decode import PROTOBUF
from vigil.remote.receiver import WriteRejected
from vigil.traces import AttrValue, KeyValues
from vigil.traces.otlp import decode
from vigil.traces.otlp_columns import SpanColumns, SpanLimits

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN = bytes.fromhex("eee19b7ec3c1b174")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _request(*attributes: bytes, spans: int = 1) -> bytes:
    """ExportTraceServiceRequest{resource_spans{scope_spans{spans}}}: each span carries
    `attributes`, encoded `KeyValue`s appended to its field 9 as they are."""
    span = PbSpan(trace_id=TRACE, span_id=SPAN, name="op").SerializeToString()
    span += b"".join(_field(9, kv) for kv in attributes)
    scope_spans = b"".join(_field(2, span) for _ in range(spans))
    return _field(1, _field(2, scope_spans))


def _kv(key: str, **value: object) -> bytes:
    return KeyValue(key=key, value=AnyValue(**value)).SerializeToString()  # type: ignore[arg-type]


def _decoded(*attributes: bytes, spans: int = 1, limit: int = 32 << 10) -> SpanColumns:
    columns = SpanColumns(SpanLimits(max_attribute_bytes=limit))
    decode(_request(*attributes, spans=spans), PROTOBUF, columns)
    return columns


LONG_KEY = "k" * 200
CASES: list[tuple[str, bytes, tuple[str, AttrValue]]] = [
    ("string", _kv("http.route", string_value="/a/{id}"), ("http.route", "/a/{id}")),
    ("empty string", _kv("e", string_value=""), ("e", "")),
    ("long key and value", _kv(LONG_KEY, string_value="v" * 300), (LONG_KEY, "v" * 300)),
    ("unicode", _kv("żółw", string_value="🐢 ok"), ("żółw", "🐢 ok")),
    ("true", _kv("b", bool_value=True), ("b", True)),
    ("false", _kv("b", bool_value=False), ("b", False)),
    ("int", _kv("n", int_value=200), ("n", 200)),
    ("zero", _kv("n", int_value=0), ("n", 0)),
    ("negative int", _kv("n", int_value=-5), ("n", -5)),
    ("int64 min", _kv("n", int_value=-(2**63)), ("n", -(2**63))),
    ("int64 max", _kv("n", int_value=2**63 - 1), ("n", 2**63 - 1)),
    ("double", _kv("r", double_value=0.25), ("r", 0.25)),
    ("bytes", _kv("raw", bytes_value=b"\x00\xff"), ("raw", b"\x00\xff")),
    (
        "array",
        _kv(
            "tags",
            array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=1)]),
        ),
        ("tags", ("a", 1)),
    ),
    (
        "kvlist",
        _kv("m", kvlist_value=KeyValueList(values=[KeyValue(key="x", value=AnyValue())])),
        ("m", KeyValues((("x", ""),))),
    ),
    ("no value", KeyValue(key="k").SerializeToString(), ("k", "")),
    ("empty value", _field(1, b"k") + _field(2, b""), ("k", "")),
    ("no key", KeyValue(value=AnyValue(int_value=3)).SerializeToString(), ("", 3)),
    (
        "value before key",
        _field(2, AnyValue(int_value=3).SerializeToString()) + _field(1, b"k"),
        ("k", 3),
    ),
    ("key twice: the last wins", _field(1, b"a") + _kv("b", int_value=1), ("b", 1)),
    (
        "value twice: merged, the last oneof member wins",
        _kv("k", string_value="s") + _field(2, AnyValue(int_value=7).SerializeToString()),
        ("k", 7),
    ),
    ("unknown field after", _kv("k", int_value=1) + b"\x18\x05", ("k", 1)),
    (
        "unknown field in the value",
        _field(1, b"k") + _field(2, AnyValue(int_value=1).SerializeToString() + b"\x78\x01"),
        ("k", 1),
    ),
    ("a string table index (profiles only)", _field(1, b"k") + _field(2, b"\x40\x01"), ("k", "")),
    (
        "a varint longer than needed",
        _field(1, b"k") + _field(2, b"\x18\x81\x80\x00"),
        ("k", 1),
    ),
]


@pytest.mark.parametrize(("name", "raw", "want"), CASES, ids=[c[0] for c in CASES])
def test_an_attribute_decodes_as_protobuf_reads_it(
    name: str, raw: bytes, want: tuple[str, AttrValue]
) -> None:
    parsed = KeyValue.FromString(raw)  # the encoding is a valid KeyValue
    assert parsed.key == want[0]
    columns = _decoded(raw, raw)
    spans = list(columns.spans().rows())
    assert [s.attributes for s in spans] == [(want, want)]
    assert type(spans[0].attributes[0][1]) is type(want[1])


def test_a_cut_value_is_counted_at_each_occurrence_even_when_repeated() -> None:
    long = _kv("body", string_value="x" * 100)
    columns = _decoded(long, _kv("small", string_value="ok"), spans=3, limit=10)
    spans = list(columns.spans().rows())
    assert [s.attributes for s in spans] == [(("body", "x" * 10), ("small", "ok"))] * 3
    assert columns.truncated == 3


@pytest.mark.parametrize(
    "raw",
    [
        _field(1, b"\xff\xfe") + _field(2, b""),
        _field(1, b"k") + _field(2, _field(1, b"\xc3\x28")),
    ],
    ids=["key", "value"],
)
def test_an_attribute_that_is_not_utf8_refuses_the_request(raw: bytes) -> None:
    with pytest.raises(WriteRejected) as refused:
        _decoded(raw)
    assert refused.value.status == 400
