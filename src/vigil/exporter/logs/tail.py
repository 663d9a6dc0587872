"""Follow one log file by path, through rotation (rename + new file) and truncation, with
positions that name a file by inode so a restart resumes where it stopped.

A `Position` is (inode, offset just past the last line handed on). Reading never loses the
rest of a renamed file: the old descriptor is read to its end before the new file. A rewind
or restart finds the committed position's file by inode at the path or among its rotated
siblings (`x.log.1`, …), so only a file that rotation already deleted can be missed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Position:
    inode: int
    offset: int


@dataclass(frozen=True, slots=True)
class Record:
    """One newline-terminated line (without its newline), where it starts and where the file
    is after it."""

    line: bytes
    start: Position
    end: Position


class _Open:
    __slots__ = ("fd", "inode", "offset", "rest")

    def __init__(self, fd: int, inode: int, offset: int) -> None:
        self.fd, self.inode, self.offset = fd, inode, offset
        self.rest = b""  # bytes read past the last newline

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def rotated_siblings(path: Path) -> list[Path]:
    """Where rotation puts the file's old contents: `x.log.1`, `x.log.2`, … (Docker,
    logrotate) and `x.log-20240101` (logrotate's dateext)."""
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    prefix = path.name
    return [path.parent / n for n in sorted(names) if n.startswith((prefix + ".", prefix + "-"))]


class FileFollower:
    """Reads new complete lines of `path` in bounded chunks. `start` resumes at a position
    (found in the file at `path` or, after a rotation while vigil was down, in a rotated
    sibling); without one, at the start of the file (nothing the file holds is skipped)."""

    def __init__(self, path: Path, start: Position | None = None, chunk: int = 1 << 20) -> None:
        self.path = path
        self._chunk = chunk
        self._files: list[_Open] = []  # oldest first; the last is the one at `path`
        self._start = start
        self.committed = start
        self._rank: dict[int, int] = {}  # inode -> order in which reading reached its file

    def _open(self, path: Path, offset: int) -> _Open | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        inode = os.fstat(fd).st_ino
        os.lseek(fd, offset, os.SEEK_SET)
        self._rank.setdefault(inode, len(self._rank))
        return _Open(fd, inode, offset)

    def order(self, position: Position) -> tuple[int, int]:
        """A sort key: positions in the order reading met them (across rotations)."""
        return self._rank.get(position.inode, -1), position.offset

    def _begin(self) -> None:
        start, self._start = self._start, None
        current = _inode(self.path)
        if start is not None and current != start.inode:
            for sibling in rotated_siblings(self.path):
                if _inode(sibling) == start.inode:
                    old = self._open(sibling, start.offset)
                    if old is not None:
                        self._files.append(old)
                    break
        offset = start.offset if start is not None and current == start.inode else 0
        opened = self._open(self.path, offset)
        if opened is not None:
            self._files.append(opened)

    def read(self, max_bytes: int) -> list[Record]:
        """Complete lines appended since the last read, up to about `max_bytes`."""
        if not self._files:
            self._begin()
        records: list[Record] = []
        budget = max_bytes
        while budget > 0 and self._files:
            file = self._files[0]
            data = os.read(file.fd, min(self._chunk, budget))
            if data:
                budget -= len(data)
                self._split(file, data, records)
            elif not self._advance(file, records):
                break
        return records

    def _split(self, file: _Open, data: bytes, records: list[Record]) -> None:
        lines = (file.rest + data).split(b"\n")
        at = file.offset - len(file.rest)
        file.rest = lines.pop()
        for line in lines:
            start = Position(file.inode, at)
            at += len(line) + 1
            records.append(Record(line, start, Position(file.inode, at)))
        file.offset += len(data)

    def _advance(self, file: _Open, records: list[Record]) -> bool:
        """At the end of `file`: move on to the file now at the path (after a rotation), or
        start over when it was truncated. False when there is nothing more to read yet."""
        if len(self._files) > 1:  # a rotated file read to its end
            if file.rest:  # its last line never got a newline: rotation ended it
                start = Position(file.inode, file.offset - len(file.rest))
                records.append(Record(file.rest, start, Position(file.inode, file.offset)))
            file.close()
            self._files.pop(0)
            return True
        current = _inode(self.path)
        if current is not None and current != file.inode:
            opened = self._open(self.path, 0)
            if opened is None:
                return False
            self._files.append(opened)
            return True
        try:
            size = os.fstat(file.fd).st_size
        except OSError:
            return False
        if size < file.offset:  # truncated (copytruncate): the new contents start at 0
            os.lseek(file.fd, 0, os.SEEK_SET)
            file.offset, file.rest = 0, b""
            return True
        return False

    def commit(self, position: Position) -> None:
        """Everything up to `position` has been shipped: a restart or rewind resumes there."""
        self.committed = position

    def rewind(self) -> None:
        """Forget what was read after the last commit (a push failed): the next read returns
        those lines again, from the file holding the committed position (renamed or not)."""
        self.close()
        self._start = self.committed

    def close(self) -> None:
        for file in self._files:
            file.close()
        self._files = []
