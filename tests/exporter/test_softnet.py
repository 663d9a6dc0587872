"""The softnet collector refuses lines node_exporter 1.5 refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.exporter import HostPaths, SourceError
from vigil.exporter.softnet import SoftnetCollector


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("0009fa71 00000000 00000000 00000000 00000000 00000000 00000000 00000000", "8 columns"),
        ("0009fa7g 00000000 00000000 00000000 00000000 00000000 00000000 00000000 0", "invalid"),
        ("100000000 0 0 0 0 0 0 0 0", "uint32"),
    ],
)
def test_refused_lines(tmp_path: Path, line: str, error: str) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "softnet_stat").write_text(line + "\n")
    with pytest.raises(SourceError, match=error):
        SoftnetCollector(HostPaths(procfs=str(tmp_path))).collect()
