"""The committed protobuf modules (`<name>_pb2.py/.pyi`) are protoc's output (from
grpcio-tools, a test dependency) under a header naming the test that regenerates them,
ruff-formatted so lint passes. Each module's test compares them with a fresh run and, run
as a script (`python -m tests.remote.test_prompb`), writes them anew."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# protoc's stubs use bare Mapping in __init__ signatures.
STUB_HEADER = '# mypy: disable-error-code="type-arg"\n'


@dataclass(frozen=True, slots=True)
class GeneratedProto:
    proto: Path
    test: str  # the test module's path from the repository root, named in the header

    @property
    def names(self) -> tuple[str, str]:
        return f"{self.proto.stem}_pb2.py", f"{self.proto.stem}_pb2.pyi"

    def generate(self, out_dir: Path) -> None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{self.proto.parent}",
                f"--python_out={out_dir}",
                f"--pyi_out={out_dir}",
                str(self.proto),
            ],
            check=True,
        )
        header = f"# ruff: noqa\n# Generated from {self.proto.name} by {self.test}; do not edit.\n"
        for name in self.names:
            path = out_dir / name
            extra = STUB_HEADER if name.endswith(".pyi") else ""
            path.write_text(header + extra + path.read_text())
        ruff = Path(sys.executable).with_name("ruff")
        subprocess.run(
            [str(ruff), "format", "--quiet", "--config", str(ROOT / "pyproject.toml")]
            + [str(out_dir / n) for n in self.names],
            check=True,
        )

    def stale(self, out_dir: Path) -> list[str]:
        """Generated into `out_dir`: the committed modules that differ."""
        self.generate(out_dir)
        committed = self.proto.parent
        return [n for n in self.names if (out_dir / n).read_text() != (committed / n).read_text()]

    def regenerate(self) -> None:
        self.generate(self.proto.parent)
