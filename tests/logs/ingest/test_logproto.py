"""logproto: the committed generated module matches logproto.proto, and its field numbers are
the ones Loki's push API documents.

Run it as a module (`python -m tests.logs.ingest.test_logproto`) to regenerate
src/vigil/logs/ingest/logproto_pb2.py/.pyi after editing logproto.proto (needs grpcio-tools,
a test dependency).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.protoc import ROOT, GeneratedProto

PROTO = GeneratedProto(
    ROOT / "src" / "vigil" / "logs" / "ingest" / "logproto.proto",
    "tests/logs/ingest/test_logproto.py",
)


def test_generated_module_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    assert PROTO.stale(tmp_path) == [], (
        "regenerate with `python -m tests.logs.ingest.test_logproto`"
    )


if __name__ == "__main__":
    PROTO.regenerate()


# (message, field, number) as Loki's push API documents them.
FIELD_NUMBERS = [
    ("PushRequest", "streams", 1),
    ("PushRequest", "format", 2),
    ("StreamAdapter", "labels", 1),
    ("StreamAdapter", "entries", 2),
    ("StreamAdapter", "hash", 3),
    ("LabelPairAdapter", "name", 1),
    ("LabelPairAdapter", "value", 2),
    ("EntryAdapter", "timestamp", 1),
    ("EntryAdapter", "line", 2),
    ("EntryAdapter", "structuredMetadata", 3),
    ("EntryAdapter", "parsed", 4),
]


def test_field_numbers_are_lokis() -> None:
    from vigil.logs.ingest import logproto_pb2

    got = [
        (message, name, getattr(logproto_pb2, message).DESCRIPTOR.fields_by_name[name].number)
        for message, name, _ in FIELD_NUMBERS
    ]
    assert got == FIELD_NUMBERS
