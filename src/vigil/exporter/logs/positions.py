"""Where each followed file was shipped up to, kept on disk (Promtail's positions file) so
a restart neither loses nor repeats lines; for the journal, the cursor of the last shipped
entry. Written atomically after each shipped batch."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from vigil.exporter.logs.tail import Position

log = logging.getLogger(__name__)

_VERSION = 1


class Positions:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._positions: dict[str, Position] = {}
        self._cursors: dict[str, str] = {}
        if path is not None:
            self._positions, self._cursors = _load(path)

    def get(self, source: str) -> Position | None:
        return self._positions.get(source)

    def put(self, source: str, position: Position) -> None:
        self._positions[source] = position

    def cursor(self, source: str) -> str | None:
        return self._cursors.get(source)

    def put_cursor(self, source: str, cursor: str) -> None:
        self._cursors[source] = cursor

    def forget(self, sources: Iterable[str]) -> None:
        for source in sources:
            self._positions.pop(source, None)

    def save(self) -> None:
        if self._path is None:
            return
        data = {
            "version": _VERSION,
            "positions": {k: [p.inode, p.offset] for k, p in sorted(self._positions.items())},
            "cursors": dict(sorted(self._cursors.items())),
        }
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self._path)


def _load(path: Path) -> tuple[dict[str, Position], dict[str, str]]:
    """The saved positions; an unreadable file is named in the log and treated as empty
    (every file is then read from its start: lines repeat rather than go missing)."""
    try:
        data = json.loads(path.read_text())
        if data.get("version") != _VERSION:
            raise ValueError(f"version {data.get('version')!r}, want {_VERSION}")
        positions = {k: Position(int(v[0]), int(v[1])) for k, v in data["positions"].items()}
        cursors = {str(k): str(v) for k, v in data.get("cursors", {}).items()}
        return positions, cursors
    except FileNotFoundError:  # a first start
        return {}, {}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        log.error(
            "log positions file %s unreadable (%s): files are read from their start", path, err
        )
    return {}, {}
