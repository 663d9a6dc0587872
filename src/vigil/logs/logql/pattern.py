"""Loki's pattern expressions (`<ip> - <_> "<method> <uri>"`): literals found in order, the
text between them captured; a leading literal must start the line, a trailing capture takes
the rest of it."""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from vigil.logs._api import Lines
from vigil.logs.lines import contains

_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


class Pattern:
    def __init__(self, text: str) -> None:
        parts: list[tuple[bool, str]] = []  # (is_capture, name or literal)
        at = 0
        for found in _CAPTURE.finditer(text):
            if found.start() > at:
                parts.append((False, text[at : found.start()]))
            elif parts and parts[-1][0]:
                raise ValueError(f"pattern {text!r} has two captures side by side")
            parts.append((True, found.group(1)))
            at = found.end()
        if at < len(text):
            parts.append((False, text[at:]))
        self.parts = [(capture, value if capture else value.encode()) for capture, value in parts]
        self.names = [value for capture, value in parts if capture and value != "_"]
        literals = [value.encode() for capture, value in parts if not capture]
        self.needle: bytes = max(literals, key=len, default=b"")

    def captures(self, line: bytes) -> list[bytes] | None:
        """The captured texts (including `<_>`), or None when the line does not match."""
        found: list[bytes] = []
        pos, pending = 0, False
        for capture, value in self.parts:
            if capture:
                pending = True
                continue
            assert isinstance(value, bytes)
            if not pending:
                if not line.startswith(value, pos):
                    return None
                pos += len(value)
                continue
            end = line.find(value, pos)
            if end == -1:
                return None
            found.append(line[pos:end])
            pos, pending = end + len(value), False
        if pending:
            found.append(line[pos:])
        return found

    def extract(self, line: bytes) -> dict[str, str] | None:
        values = self.captures(line)
        if values is None:
            return None
        names = [value for capture, value in self.parts if capture]
        return {
            str(name): value.decode("utf-8", "replace")
            for name, value in zip(names, values, strict=True)
            if name != "_"
        }

    def matching(self, lines: Lines) -> npt.NDArray[np.bool_]:
        mask = contains(lines, self.needle) if self.needle else np.ones(len(lines), dtype=bool)
        for i in np.flatnonzero(mask).tolist():
            mask[i] = self.captures(lines[i]) is not None
        return mask
