"""The on-disk form shared by the silences and the notification log: one JSON document
`{"version": 1, "kind": ..., "entries": [...]}`, written to a temporary file, fsynced and
renamed over the old one, so a crash leaves either the old snapshot or the new one.

Reading never deletes or rewrites a file: a damaged snapshot is reported with the file and
where it went wrong, and left for the user to inspect."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from vigil.tsdb.fileutil import write_atomically

FORMAT_VERSION = 1


class SnapshotError(Exception):
    """A snapshot file that cannot be read; the message names the file and the place."""

    def __init__(self, path: str, where: str, reason: str) -> None:
        super().__init__(f"{path}: {where}: {reason}")
        self.path = path
        self.where = where
        self.reason = reason


def write_snapshot(path: str, kind: str, entries: Iterable[Mapping[str, Any]]) -> int:
    """Atomically replace `path` with the entries; returns the number of bytes written."""
    data = json.dumps(
        {"version": FORMAT_VERSION, "kind": kind, "entries": list(entries)},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    write_atomically(path, data)
    return len(data)


def read_snapshot(path: str, kind: str) -> list[Record] | None:
    """The entries of a snapshot of `kind`, or None when the file does not exist."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError as err:
        raise SnapshotError(path, f"byte offset {err.start}", "not valid UTF-8") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise SnapshotError(
            path, f"line {err.lineno} column {err.colno} (offset {err.pos})", err.msg
        ) from None
    if not isinstance(doc, dict):
        raise SnapshotError(path, "top level", "expected a JSON object")
    version = doc.get("version")
    if version != FORMAT_VERSION:
        raise SnapshotError(
            path, "version", f"unsupported snapshot version {version!r} (want {FORMAT_VERSION})"
        )
    if doc.get("kind") != kind:
        raise SnapshotError(path, "kind", f"this is a {doc.get('kind')!r} snapshot, not {kind!r}")
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise SnapshotError(path, "entries", "expected a list")
    records = []
    for index, entry in enumerate(entries):
        where = f"entries[{index}]"
        if not isinstance(entry, dict):
            raise SnapshotError(path, where, "expected an object")
        records.append(Record(path, where, entry))
    return records


class Record:
    """One entry of a snapshot, with typed getters whose errors name the file and field."""

    __slots__ = ("_fields", "_path", "_where")

    def __init__(self, path: str, where: str, fields: dict[str, Any]) -> None:
        self._path = path
        self._where = where
        self._fields = fields

    def error(self, field: str, reason: str) -> SnapshotError:
        return SnapshotError(self._path, f"{self._where}.{field}", reason)

    def _get(self, field: str) -> Any:
        if field not in self._fields:
            raise self.error(field, "missing")
        return self._fields[field]

    def text(self, field: str) -> str:
        value = self._get(field)
        if not isinstance(value, str):
            raise self.error(field, f"expected a string, got {value!r}")
        return value

    def number(self, field: str) -> float:
        value = self._get(field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(field, f"expected a number, got {value!r}")
        return float(value)

    def integers(self, field: str) -> list[int]:
        value = self._get(field)
        if not isinstance(value, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        ):
            raise self.error(field, "expected a list of integers")
        return value

    def records(self, field: str) -> list[Record]:
        value = self._get(field)
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(field, "expected a list of objects")
        return [
            Record(self._path, f"{self._where}.{field}[{i}]", item) for i, item in enumerate(value)
        ]
