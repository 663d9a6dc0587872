"""Where each followed file was shipped up to, kept on disk (Promtail's positions file) so
a restart neither loses nor repeats lines. Written atomically after each shipped batch."""

from __future__ import annotations

import contextlib
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
        if path is not None:
            self._positions = _load(path)

    def get(self, source: str) -> Position | None:
        return self._positions.get(source)

    def put(self, source: str, position: Position) -> None:
        self._positions[source] = position

    def forget(self, sources: Iterable[str]) -> None:
        for source in sources:
            self._positions.pop(source, None)

    def save(self) -> None:
        if self._path is None:
            return
        data = {
            "version": _VERSION,
            "positions": {k: [p.inode, p.offset] for k, p in sorted(self._positions.items())},
        }
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self._path)


def _load(path: Path) -> dict[str, Position]:
    """The saved positions; an unreadable file is named in the log and treated as empty
    (every file is then read from its start: lines repeat rather than go missing)."""
    with contextlib.suppress(FileNotFoundError):
        try:
            data = json.loads(path.read_text())
            if data.get("version") != _VERSION:
                raise ValueError(f"version {data.get('version')!r}, want {_VERSION}")
            return {k: Position(int(v[0]), int(v[1])) for k, v in data["positions"].items()}
        except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
            log.error(
                "log positions file %s unreadable (%s): files are read from their start", path, err
            )
    return {}
