"""The one atomic file writer: a replaced file holds the old content or the new, and no
temporary file stays beside it either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.tsdb.fileutil import write_atomically


def test_a_replaced_file_holds_the_new_content_and_nothing_stays_beside_it(
    tmp_path: Path,
) -> None:
    target = tmp_path / "state.json"
    write_atomically(target, b"old")
    write_atomically(target, b"new")
    assert (target.read_bytes(), sorted(p.name for p in tmp_path.iterdir())) == (
        b"new",
        ["state.json"],
    )


def test_a_failed_write_keeps_the_old_content_and_removes_its_temporary_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "state.json"
    write_atomically(target, b"old")
    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert (target.read_bytes(), sorted(p.name for p in tmp_path.iterdir())) == (
        b"old",
        ["state.json"],
    )
