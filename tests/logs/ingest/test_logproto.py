"""logproto: the committed generated module matches logproto.proto, and its field numbers are
the ones Loki's push API documents.

Run this file as a script to regenerate src/vigil/logs/ingest/logproto_pb2.py/.pyi after
editing logproto.proto (needs grpcio-tools, a test dependency).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
INGEST_DIR = ROOT / "src" / "vigil" / "logs" / "ingest"
GENERATED = ("logproto_pb2.py", "logproto_pb2.pyi")
HEADER = (
    "# ruff: noqa\n# Generated from logproto.proto by tests/logs/ingest/test_logproto.py; "
    "do not edit.\n"
)
# protoc's stubs use bare Mapping in __init__ signatures.
STUB_HEADER = '# mypy: disable-error-code="type-arg"\n'


def generate(out_dir: Path) -> None:
    """protoc (from grpcio-tools) → logproto_pb2.py/.pyi, ruff-formatted so lint passes."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{INGEST_DIR}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            str(INGEST_DIR / "logproto.proto"),
        ],
        check=True,
    )
    for name in GENERATED:
        path = out_dir / name
        extra = STUB_HEADER if name.endswith(".pyi") else ""
        path.write_text(HEADER + extra + path.read_text())
    ruff = Path(sys.executable).with_name("ruff")
    subprocess.run(
        [str(ruff), "format", "--quiet", "--config", str(ROOT / "pyproject.toml")]
        + [str(out_dir / n) for n in GENERATED],
        check=True,
    )


def test_generated_module_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    generate(tmp_path)
    stale = [n for n in GENERATED if (tmp_path / n).read_text() != (INGEST_DIR / n).read_text()]
    assert stale == [], f"regenerate with `python {Path(__file__).name}`"


if __name__ == "__main__":
    generate(INGEST_DIR)


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
