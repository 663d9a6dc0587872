"""Following a file through rotation and truncation, resuming by inode after a restart."""

from __future__ import annotations

import os
from pathlib import Path

from vigil.exporter.logs.tail import FileFollower, Position, rotated_siblings


def _lines(follower: FileFollower) -> list[bytes]:
    return [r.line for r in follower.read(1 << 20)]


def test_new_lines_only_whole_ones(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntw")
    follower = FileFollower(path)
    assert _lines(follower) == [b"one"]
    with path.open("ab") as f:
        f.write(b"o\nthree\n")
    records = follower.read(1 << 20)
    assert [r.line for r in records] == [b"two", b"three"]
    inode = os.stat(path).st_ino
    assert [(r.start, r.end) for r in records] == [
        (Position(inode, 4), Position(inode, 8)),
        (Position(inode, 8), Position(inode, 14)),
    ]


def test_rotation_by_rename_reads_the_old_file_to_its_end_first(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\n")
    follower = FileFollower(path)
    assert _lines(follower) == [b"a"]
    with path.open("ab") as f:
        f.write(b"b\nlast without newline")
    os.rename(path, tmp_path / "app.log.1")
    path.write_bytes(b"c\n")
    assert _lines(follower) == [b"b", b"last without newline", b"c"]


def test_truncation_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"first long line\n")
    follower = FileFollower(path)
    assert _lines(follower) == [b"first long line"]
    with path.open("r+b") as f:
        f.truncate(0)
    with path.open("ab") as f:
        f.write(b"x\n")
    assert _lines(follower) == [b"x"]


def test_restart_resumes_in_the_rotated_file_that_holds_the_position(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\nb\n")
    first = FileFollower(path)
    records = first.read(1 << 20)
    position = records[0].end  # "b" was read but never shipped
    first.close()
    os.rename(path, tmp_path / "app.log.1")
    path.write_bytes(b"c\n")
    assert rotated_siblings(path) == [tmp_path / "app.log.1"]
    assert _lines(FileFollower(path, position)) == [b"b", b"c"]


def test_rewind_returns_what_was_read_after_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\nb\n")
    follower = FileFollower(path)
    records = follower.read(1 << 20)
    follower.commit(records[0].end)
    follower.rewind()
    assert _lines(follower) == [b"b"]


def test_reads_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(1000)))
    follower = FileFollower(path, chunk=100)
    first = follower.read(100)
    assert 0 < len(first) < 20
    rest = follower.read(1 << 20)
    assert [r.line for r in first + rest] == [b"line %d" % i for i in range(1000)]
