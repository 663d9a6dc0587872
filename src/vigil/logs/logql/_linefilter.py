"""Line filters over a whole column of lines: one `bytes.find` or RE2 scan of the blob, then
the line of each hit from the offsets, instead of a Python call per line."""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import re2
from re2 import _re2

from vigil.logs._api import Lines
from vigil.logs.lines import contains
from vigil.logs.logql import ast
from vigil.logs.logql.pattern import Pattern
from vigil.logs.logql.prefilter import regex_needle

Bools = npt.NDArray[np.bool_]

_SCAN_OPTIONS = re2.Options()
_SCAN_OPTIONS.never_nl = True
_SCAN_OPTIONS.never_capture = True
_SCAN_OPTIONS.log_errors = False
_LINE_OPTIONS = re2.Options()
_LINE_OPTIONS.never_capture = True
_LINE_OPTIONS.log_errors = False
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_CASELESS_LITERAL = re.compile(r"\(\?i\)([A-Za-z0-9 _\-:=/,;'\"]+)")
_IP_CANDIDATE = re.compile(rb"[0-9A-Fa-f:.]*[.:][0-9A-Fa-f:.]+")


def _program(pattern: str, options: Any) -> Any:
    program = _re2.RE2(pattern.encode(), options)
    if not program.ok():
        raise ValueError(program.error().decode("utf-8", "replace"))
    return program


class _RegexScan:
    """An unanchored RE2 search (Go's MatchString) over every line of a column: lines holding
    the pattern's needle are searched one by one while they are few, otherwise the lines
    are joined by newlines and searched in one pass (the program never matches a newline)."""

    def __init__(self, pattern: str) -> None:
        self.needle = regex_needle(pattern)
        self.line = _program(pattern, _LINE_OPTIONS)
        self.blob = None
        if "\\A" not in pattern and "\\z" not in pattern:
            self.blob = _program(f"(?m:{pattern})", _SCAN_OPTIONS)
        caseless = _CASELESS_LITERAL.fullmatch(pattern)
        self.caseless = caseless.group(1).lower().encode() if caseless else None

    def __call__(self, lines: Lines) -> Bools:
        if self.caseless is not None and lines.data.isascii():
            return contains(Lines(lines.data.lower(), lines.offsets), self.caseless)
        joinable = self.blob is not None and b"\n" not in lines.data
        if self.needle is not None:
            mask = contains(lines, self.needle)
            candidates = np.flatnonzero(mask)
            if not joinable or len(candidates) * 16 <= len(lines):
                mask[candidates] = self._search_each(lines, candidates)
                return mask
        if joinable:
            return self._scan_joined(lines)
        return self._search_each(lines, np.arange(len(lines)))

    def _search_each(self, lines: Lines, indices: npt.NDArray[np.int64]) -> Bools:
        match, data = self.line.Match, lines.data
        starts, ends = lines.offsets[indices].tolist(), lines.offsets[indices + 1].tolist()
        return np.fromiter(
            (
                match(_UNANCHORED, line, 0, len(line))[0][0] != -1
                for line in (data[a:b] for a, b in zip(starts, ends, strict=True))
            ),
            bool,
            len(indices),
        )

    def _scan_joined(self, lines: Lines) -> Bools:
        assert self.blob is not None
        n = len(lines)
        mask = np.zeros(n, dtype=bool)
        if n == 0:
            return mask
        starts = (lines.offsets[:-1] + np.arange(n)).tolist()
        raw = np.frombuffer(lines.data, dtype=np.uint8)
        joined = np.insert(raw, lines.offsets[1:-1], 0x0A).tobytes()
        next_starts = (lines.offsets[1:] + np.arange(1, n + 1)).tolist()
        pos, size, match = 0, len(joined), self.blob.Match
        while pos <= size:
            found = match(_UNANCHORED, joined, pos, size)[0][0]
            if found == -1:
                break
            line = bisect.bisect_right(starts, found) - 1
            mask[line] = True
            pos = next_starts[line]
        return mask


def _ip_test(cidr: str) -> Callable[[str], bool]:
    """Loki's ip(): one address, a CIDR range or `first-last`."""
    text = cidr.strip()
    if "-" in text:
        first, last = (ipaddress.ip_address(part.strip()) for part in text.split("-", 1))
        return lambda value: _in_range(value, first, last)
    network = ipaddress.ip_network(text, strict=False)

    def test(value: str) -> bool:
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return test


def _in_range(
    value: str,
    first: ipaddress.IPv4Address | ipaddress.IPv6Address,
    last: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == first.version and first <= address <= last  # type: ignore[operator]


def ip_matcher(cidr: str) -> Callable[[str], bool]:
    try:
        return _ip_test(cidr)
    except ValueError as err:
        raise ValueError(f"invalid ip range {cidr!r}: {err}") from None


def _ip_lines(cidr: str) -> Callable[[Lines], Bools]:
    test = ip_matcher(cidr)

    def scan(lines: Lines) -> Bools:
        return np.fromiter(
            (any(test(c.decode()) for c in _IP_CANDIDATE.findall(line)) for line in lines),
            bool,
            len(lines),
        )

    return scan


def _term_scan(op: str, term: ast.FilterTerm) -> Callable[[Lines], Bools]:
    if term.ip:
        return _ip_lines(term.value)
    if op in ("|=", "!="):
        needle = term.value.encode()
        return lambda lines: contains(lines, needle)
    if op in ("|~", "!~"):
        return _RegexScan(term.value)
    pattern = Pattern(term.value)
    return pattern.matching


class LineFilterScan:
    """A compiled line filter: `keep(lines)` is the mask of lines it lets through."""

    def __init__(self, line_filter: ast.LineFilter) -> None:
        self.negated = line_filter.negated
        self.scans = [_term_scan(line_filter.op, term) for term in line_filter.terms]

    def keep(self, lines: Lines) -> Bools:
        hit = self.scans[0](lines)
        for scan in self.scans[1:]:
            hit |= scan(lines)
        return ~hit if self.negated else hit
