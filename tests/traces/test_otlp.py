"""OTLP traces decoded into span columns: protobuf and OTLP/JSON (hex ids, integer or named
enums, lowerCamelCase or proto field names, int64 as strings) give the same spans; ids that
are not OTLP's refuse their span (counted for `partial_success`) or, in JSON when they are not
hex at all (base64), the whole request; huge values are cut; skewed clocks are kept."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.conftest import CONFORMANCE
from vigil.remote.otlp.decode import JSON, PROTOBUF
from vigil.remote.receiver import WriteRejected
from vigil.traces import (
    KIND_CLIENT,
    KIND_SERVER,
    STATUS_ERROR,
    Event,
    KeyValues,
    Link,
    Resource,
    Scope,
    Span,
)
from vigil.traces.otlp import decode
from vigil.traces.otlp_columns import (
    BAD_LINK_ID,
    BAD_PARENT_ID,
    BAD_SPAN_ID,
    BAD_TRACE_ID,
    SpanColumns,
    SpanLimits,
)

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
ROOT = bytes.fromhex("eee19b7ec3c1b174")
CHILD = bytes.fromhex("eee19b7ec3c1b173")
OTHER_TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")


def _value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, bytes):
        return AnyValue(bytes_value=v)
    if isinstance(v, tuple):
        value = AnyValue()
        value.array_value.values.extend(_value(item) for item in v)
        return value
    if isinstance(v, KeyValues):
        value = AnyValue()
        value.kvlist_value.values.extend(_pairs(v.items))
        return value
    return AnyValue(string_value=v)


def _pairs(attributes: Any) -> list[KeyValue]:
    return [KeyValue(key=k, value=_value(v)) for k, v in attributes]


def _request(spans: list[Span]) -> ExportTraceServiceRequest:
    """One resource_spans and scope_spans per span, as a simple exporter writes them."""
    request = ExportTraceServiceRequest()
    for span in spans:
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(_pairs(span.resource.attributes))
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = span.scope.name
        scope_spans.scope.version = span.scope.version
        scope_spans.scope.attributes.extend(_pairs(span.scope.attributes))
        out = scope_spans.spans.add(
            trace_id=span.trace_id,
            span_id=span.span_id,
            parent_span_id=span.parent_span_id.strip(b"\0") and span.parent_span_id,
            name=span.name,
            kind=span.kind,  # type: ignore[arg-type]
            start_time_unix_nano=span.start_ns,
            end_time_unix_nano=span.end_ns,
            trace_state=span.trace_state,
        )
        out.attributes.extend(_pairs(span.attributes))
        out.status.code = span.status_code  # type: ignore[assignment]
        out.status.message = span.status_message
        for event in span.events:
            out.events.add(time_unix_nano=event.time_ns, name=event.name).attributes.extend(
                _pairs(event.attributes)
            )
        for link in span.links:
            out.links.add(
                trace_id=link.trace_id, span_id=link.span_id, trace_state=link.trace_state
            ).attributes.extend(_pairs(link.attributes))
    return request


def _otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The request as OTLP/JSON writes it: protobuf's JSON mapping, ids in hex, enums as
    integers."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)

    def hex_ids(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId"):
                    node[key] = base64.b64decode(value).hex()
                else:
                    hex_ids(value)
        elif isinstance(node, list):
            for item in node:
                hex_ids(item)

    hex_ids(document)
    return document


def _decoded(
    raw: bytes, kind: str, limits: SpanLimits | None = None
) -> tuple[list[Span], SpanColumns]:
    columns = SpanColumns(limits or SpanLimits())
    decode(raw, kind, columns)
    return list(columns.spans().rows()), columns


SHOP = Resource((("service.name", "shop"), ("host.name", "vm-1")))
SPANS = [
    Span(
        trace_id=TRACE,
        span_id=ROOT,
        name="GET /appointments/{id}",
        start_ns=1_544_712_660_000_000_000,
        end_ns=1_544_712_661_000_000_000,
        kind=KIND_SERVER,
        attributes=(
            ("http.route", "/appointments/{id}"),
            ("http.response.status_code", 200),
            ("big", -(2**63)),
            ("ratio", 0.5),
            ("cached", False),
            ("raw", b"\x00\xff"),
            ("tags", ("a", 1, 2.5, True)),
            ("nested", KeyValues((("k", "v"), ("deeper", KeyValues((("n", 1),)))))),
            ("empty", ""),
        ),
        events=(Event(1_544_712_660_500_000_000, "exception", (("exception.type", "OOM"),)),),
        resource=SHOP,
        scope=Scope("io.opentelemetry.spring", "2.10", (("scope.attr", "x"),)),
        trace_state="vendor=1",
    ),
    Span(
        trace_id=TRACE,
        span_id=CHILD,
        parent_span_id=ROOT,
        name="SELECT appointments",
        start_ns=1_544_712_660_100_000_000,
        end_ns=1_544_712_660_900_000_000,
        kind=KIND_CLIENT,
        status_code=STATUS_ERROR,
        status_message="deadlock",
        links=(Link(OTHER_TRACE, ROOT, (("why", "retry"),), "k=v"),),
        resource=Resource((("service.name", "db"),)),
    ),
]


@pytest.mark.parametrize("kind", [PROTOBUF, JSON])
def test_protobuf_and_otlp_json_decode_to_the_same_spans(kind: str) -> None:
    request = _request(SPANS)
    raw = (
        request.SerializeToString()
        if kind == PROTOBUF
        else json.dumps(_otlp_json(request)).encode()
    )
    spans, columns = _decoded(raw, kind)
    assert (spans, columns.message()) == (SPANS, "")


def test_a_naive_json_parse_misreads_hex_ids_which_the_decoder_reads_as_hex() -> None:
    document = _otlp_json(_request(SPANS[:1]))
    naive = json_format.ParseDict(document, ExportTraceServiceRequest())
    misread = naive.resource_spans[0].scope_spans[0].spans[0].trace_id
    assert len(misread) == 24  # 32 hex digits read as base64
    spans, _ = _decoded(json.dumps(document).encode(), JSON)
    assert spans[0].trace_id == TRACE


def test_the_otlp_specification_example_trace() -> None:
    spans, columns = _decoded((CONFORMANCE / "otlp" / "trace.json").read_bytes(), JSON)
    assert spans == [
        Span(
            trace_id=TRACE,
            span_id=ROOT,
            parent_span_id=CHILD,
            name="I'm a server span",
            start_ns=1544712660000000000,
            end_ns=1544712661000000000,
            kind=KIND_SERVER,
            attributes=(("my.span.attr", "some value"),),
            resource=Resource((("service.name", "my.service"),)),
            scope=Scope("my.library", "1.0.0", (("my.scope.attribute", "some scope attribute"),)),
        )
    ]
    assert columns.refused_count() == 0


def _json_span(**fields: Any) -> bytes:
    span = {
        "traceId": TRACE.hex(),
        "spanId": ROOT.hex(),
        "name": "op",
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "3000",
        **fields,
    }
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "fields, refusal",
    [
        (
            {"traceId": _b64(TRACE)},
            "traceId '" + _b64(TRACE) + "' is not 32 hex digits (it is base64",
        ),
        ({"spanId": _b64(ROOT)}, "spanId '" + _b64(ROOT) + "' is not 16 hex digits (it is base64"),
        ({"parentSpanId": _b64(CHILD)}, "parentSpanId '" + _b64(CHILD) + "' is not 16 hex"),
        (
            {"links": [{"traceId": _b64(OTHER_TRACE), "spanId": ROOT.hex()}]},
            "links.traceId '" + _b64(OTHER_TRACE) + "' is not 32 hex digits (it is base64",
        ),
        ({"traceId": TRACE.hex()[:-2]}, "is not 32 hex digits"),
        ({"traceId": 5}, "traceId 5 is not 32 hex digits"),
        ({"kind": "SERVER"}, "kind 'SERVER' is not one of SPAN_KIND_UNSPECIFIED"),
        ({"startTimeUnixNano": "-5"}, "startTimeUnixNano '-5' is not an unsigned integer"),
        ({"name": 7}, "7 is not a string"),
        ({"attributes": [{"key": "n", "value": {"intValue": "1.5"}}]}, "intValue '1.5' is not an"),
        ({"attributes": [{"key": "n", "value": {"boolValue": "true"}}]}, "boolValue 'true' is not"),
        ({"attributes": [{"key": "b", "value": {"bytesValue": "%%"}}]}, "bytesValue '%%' is not"),
        ({"attributes": [{"key": "d", "value": {"doubleValue": "x"}}]}, "doubleValue 'x' is not"),
        ({"attributes": {"key": "v"}}, "spans[0]"),
    ],
)
def test_otlp_json_that_is_not_a_request_is_refused_whole_naming_where(
    fields: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(WriteRejected) as refused:
        _decoded(_json_span(**fields), JSON)
    assert refused.value.status == 400
    assert "resourceSpans[0].scopeSpans[0].spans[0]: " in refused.value.message
    assert refusal in refused.value.message


@pytest.mark.parametrize(
    "raw",
    [
        b"[1]",
        b"{",
        b'{"resourceSpans": 3}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}',
    ],
)
def test_json_bodies_that_are_not_requests(raw: bytes) -> None:
    with pytest.raises(WriteRejected) as refused:
        _decoded(raw, JSON)
    assert refused.value.status == 400


def test_otlp_json_takes_enum_names_proto_field_names_and_numbers_in_either_form() -> None:
    raw = json.dumps(
        {
            "resource_spans": [
                {
                    "scope_spans": [
                        {
                            "spans": [
                                {
                                    "trace_id": TRACE.hex().upper(),
                                    "span_id": ROOT.hex(),
                                    "parent_span_id": "",
                                    "name": "op",
                                    "kind": "SPAN_KIND_CONSUMER",
                                    "start_time_unix_nano": 1000,
                                    "end_time_unix_nano": "2500",
                                    "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                                    "attributes": [
                                        {"key": "i", "value": {"int_value": 5}},
                                        {"key": "s", "value": {"intValue": "-9223372036854775808"}},
                                        {"key": "nan", "value": {"doubleValue": "NaN"}},
                                        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
                                        {"key": "b", "value": {"bytesValue": "AP8"}},
                                        {"key": "unset", "value": {}},
                                    ],
                                    "unknownField": {"ignored": True},
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    spans, _ = _decoded(raw, JSON)
    span = spans[0]
    attributes = dict(span.attributes)
    nan = attributes.pop("nan")
    assert nan != nan
    assert (span.kind, span.status_code, span.status_message, span.duration_ns, attributes) == (
        5,
        STATUS_ERROR,
        "boom",
        1500,
        {"i": 5, "s": -(2**63), "inf": float("-inf"), "b": b"\x00\xff", "unset": ""},
    )
    assert span.service_name == "unknown_service"


@pytest.mark.parametrize("kind", [PROTOBUF, JSON])
def test_spans_with_invalid_ids_are_refused_and_counted_the_rest_kept(kind: str) -> None:
    good = SPANS[1]
    request = _request(
        [
            Span(bytes(16), ROOT, "zero trace", 1, 2),
            Span(TRACE, bytes(8), "zero span", 1, 2),
            Span(TRACE, b"", "no span id", 1, 2),
            good,
        ]
    )
    if kind == PROTOBUF:
        spans = request.resource_spans.add().scope_spans.add().spans
        spans.add(trace_id=TRACE, span_id=ROOT, parent_span_id=b"\x01" * 4, name="short parent")
        spans.add(trace_id=TRACE, span_id=ROOT, name="short link").links.add(
            trace_id=b"\x01" * 4, span_id=ROOT
        )
        raw = request.SerializeToString()
    else:
        raw = json.dumps(_otlp_json(request)).encode()
    kept, columns = _decoded(raw, kind)
    want_refused = {BAD_TRACE_ID: 1, BAD_SPAN_ID: 2}
    if kind == PROTOBUF:  # in JSON, an id of the wrong size refuses the request (above)
        want_refused |= {BAD_PARENT_ID: 1, BAD_LINK_ID: 1}
    assert (kept, columns.refused) == ([good], want_refused)
    assert columns.message().startswith(f"refused 2 spans with {BAD_SPAN_ID}; 1 spans with")


def test_a_truncated_protobuf_body_is_refused_whole() -> None:
    raw = _request(SPANS).SerializeToString()
    with pytest.raises(WriteRejected) as refused:
        _decoded(raw[: len(raw) // 2], PROTOBUF)
    assert refused.value.status == 400
    assert "not a valid ExportTraceServiceRequest protobuf" in refused.value.message


@pytest.mark.parametrize("kind", [PROTOBUF, JSON])
def test_huge_attribute_values_are_cut_to_the_limit_and_said(kind: str) -> None:
    huge = Span(
        TRACE,
        ROOT,
        "upload",
        1,
        2,
        attributes=(("body", "ż" * 600), ("blob", b"\x01" * 2000), ("small", "ok")),
        events=(Event(1, "log", (("stack", "x" * 5000),)),),
    )
    request = _request([huge])
    raw = (
        request.SerializeToString()
        if kind == PROTOBUF
        else json.dumps(_otlp_json(request)).encode()
    )
    spans, columns = _decoded(raw, kind, SpanLimits(max_attribute_bytes=1024))
    assert (dict(spans[0].attributes), spans[0].events[0].attributes) == (
        {"body": "ż" * 512, "blob": b"\x01" * 1024, "small": "ok"},
        (("stack", "x" * 1024),),
    )
    assert (columns.refused_count(), columns.message()) == (
        0,
        "3 attribute values cut to 1024 bytes (the limit)",
    )


def test_clock_skewed_spans_are_kept_an_end_before_the_start_as_no_duration() -> None:
    skewed = [
        Span(TRACE, ROOT, "ends before it starts", 5_000, 4_000),
        Span(TRACE, CHILD, "from 2100", 4_102_444_800 * 10**9, 4_102_444_801 * 10**9),
        Span(OTHER_TRACE, ROOT, "from 1970", 1, 2),
        Span(OTHER_TRACE, CHILD, "never ended", 1_000, 0),
    ]
    spans, columns = _decoded(_request(skewed).SerializeToString(), PROTOBUF)
    assert [(s.name, s.start_ns, s.duration_ns) for s in spans] == [
        ("ends before it starts", 5_000, 0),
        ("from 2100", 4_102_444_800 * 10**9, 10**9),
        ("from 1970", 1, 1),
        ("never ended", 1_000, 0),
    ]
    assert columns.refused_count() == 0


def test_times_beyond_int64_nanoseconds_refuse_the_span() -> None:
    request = _request([Span(TRACE, ROOT, "far", 1, 2)])
    request.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano = 2**64 - 1
    spans, columns = _decoded(request.SerializeToString(), PROTOBUF)
    assert (spans, columns.refused_count()) == ([], 1)
