"""OTLP's trace messages as the protobuf decoder reads them: the same wire format as
`opentelemetry-proto`'s, declared in code with every attribute list (`repeated KeyValue`),
event and link list and the status as bytes, so upb hands over each one as the bytes of its
message instead of a Python object per attribute. `Pairs` turns those bytes into
`(key, value)` pairs, once per distinct attribute of a request: a dict keyed by the bytes,
its misses read by a small parser for the shapes SDKs write (a key, then a string, bool,
int or double) and by `opentelemetry-proto`'s `KeyValue` for anything else.

Built on first use (it needs protobuf's descriptor pool, not wanted at start-up)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from vigil.traces._api import AttrValue

_PACKAGE = "vigil.otlp.wire"
_DOUBLE = struct.Struct("<d")
_INT64_SIGN = 1 << 63
_UINT64 = (1 << 64) - 1
_SCALARS = {
    "bytes": 12,
    "string": 9,
    "int32": 5,
    "fixed64": 6,
}
_OPTIONAL, _REPEATED = 1, 3
_MESSAGE = 11
# Each message: (name, ((field name, number, scalar type or message name, label), ...)).
_MESSAGES: tuple[tuple[str, tuple[tuple[str, int, str, int], ...]], ...] = (
    ("Request", (("resource_spans", 1, "ResourceSpans", _REPEATED),)),
    (
        "ResourceSpans",
        (("resource", 1, "Resource", _OPTIONAL), ("scope_spans", 2, "ScopeSpans", _REPEATED)),
    ),
    ("Resource", (("attributes", 1, "bytes", _REPEATED),)),
    ("ScopeSpans", (("scope", 1, "Scope", _OPTIONAL), ("spans", 2, "Span", _REPEATED))),
    (
        "Scope",
        (
            ("name", 1, "string", _OPTIONAL),
            ("version", 2, "string", _OPTIONAL),
            ("attributes", 3, "bytes", _REPEATED),
        ),
    ),
    (
        "Span",
        (
            ("trace_id", 1, "bytes", _OPTIONAL),
            ("span_id", 2, "bytes", _OPTIONAL),
            ("trace_state", 3, "string", _OPTIONAL),
            ("parent_span_id", 4, "bytes", _OPTIONAL),
            ("name", 5, "string", _OPTIONAL),
            ("kind", 6, "int32", _OPTIONAL),
            ("start_time_unix_nano", 7, "fixed64", _OPTIONAL),
            ("end_time_unix_nano", 8, "fixed64", _OPTIONAL),
            ("attributes", 9, "bytes", _REPEATED),
            ("events", 11, "bytes", _REPEATED),
            ("links", 13, "bytes", _REPEATED),
            ("status", 15, "bytes", _OPTIONAL),
        ),
    ),
    ("Status", (("message", 2, "string", _OPTIONAL), ("code", 3, "int32", _OPTIONAL))),
    (
        "Event",
        (
            ("time_unix_nano", 1, "fixed64", _OPTIONAL),
            ("name", 2, "string", _OPTIONAL),
            ("attributes", 3, "bytes", _REPEATED),
        ),
    ),
    (
        "Link",
        (
            ("trace_id", 1, "bytes", _OPTIONAL),
            ("span_id", 2, "bytes", _OPTIONAL),
            ("trace_state", 3, "string", _OPTIONAL),
            ("attributes", 4, "bytes", _REPEATED),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Wire:
    """The trimmed schema: a new request to parse into, and the parsers of the messages
    spans hold as bytes."""

    request: Callable[[], Any]
    status: Callable[[bytes], Any]
    event: Callable[[bytes], Any]
    link: Callable[[bytes], Any]


@cache
def wire() -> Wire:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    file = descriptor_pb2.FileDescriptorProto(
        name="vigil/otlp_wire.proto", package=_PACKAGE, syntax="proto3"
    )
    for name, fields in _MESSAGES:
        message = file.message_type.add(name=name)
        for field_name, number, kind, label in fields:
            field = message.field.add(name=field_name, number=number, label=label)
            if kind in _SCALARS:
                field.type = _SCALARS[kind]  # type: ignore[assignment]
            else:
                field.type = _MESSAGE  # type: ignore[assignment]
                field.type_name = f".{_PACKAGE}.{kind}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)

    def cls(name: str) -> Any:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))

    return Wire(
        cls("Request"), cls("Status").FromString, cls("Event").FromString, cls("Link").FromString
    )


class Pairs(dict[bytes, tuple[str, AttrValue]]):
    """Encoded `KeyValue` → (key, value), filled as asked (`pairs[raw]`). `decode` reads
    what the fast parser does not take; `text` cuts a string to the limit. A pair whose
    reading moved `cut()` (the count of values cut) is not kept, so each occurrence of a
    cut value is counted."""

    def __init__(
        self,
        decode: Callable[[bytes], tuple[str, AttrValue]],
        cut: Callable[[], int],
        text: Callable[[str], str],
    ) -> None:
        super().__init__()
        self._decode = decode
        self._cut = cut
        self._text = text

    def __missing__(self, raw: bytes) -> tuple[str, AttrValue]:
        before = self._cut()
        pair = _fast(raw, self._text)
        if pair is None:
            pair = self._decode(raw)
        if self._cut() == before:
            self[raw] = pair
        return pair


def _varint(raw: bytes, at: int) -> tuple[int, int]:
    """The varint at `at` and the offset after it; IndexError when cut off."""
    value = shift = 0
    while True:
        byte = raw[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")


def _fast(raw: bytes, text: Callable[[str], str]) -> tuple[str, AttrValue] | None:
    """`KeyValue{key, value: AnyValue{string|bool|int|double}}` written in field order with
    nothing else, as SDKs write it; None for any other shape (the caller decodes it)."""
    try:
        if raw[0] != 0x0A:
            return None
        at = 2
        size = raw[1]
        if size >= 0x80:
            size, at = _varint(raw, 1)
        key_end = at + size
        if raw[key_end] != 0x12:
            return None
        key = raw[at:key_end].decode()
        at = key_end + 2
        size = raw[key_end + 1]
        if size >= 0x80:
            size, at = _varint(raw, key_end + 1)
        if at + size != len(raw) or size < 2:
            return None
        tag = raw[at]
        value: AttrValue
        if tag == 0x0A:
            start = at + 2
            size = raw[at + 1]
            if size >= 0x80:
                size, start = _varint(raw, at + 1)
            if start + size != len(raw):
                return None
            value = text(raw[start:].decode())
        elif tag == 0x18 or tag == 0x10:
            number, end = _varint(raw, at + 1)
            if end != len(raw):
                return None
            if tag == 0x10:
                value = number != 0
            else:
                number &= _UINT64
                value = number - (1 << 64) if number >= _INT64_SIGN else number
        elif tag == 0x21 and at + 9 == len(raw):
            value = _DOUBLE.unpack_from(raw, at + 1)[0]
        else:
            return None
    except (IndexError, UnicodeDecodeError):
        return None
    return key, value
