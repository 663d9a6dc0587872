"""Line filters over a whole column of lines: one `bytes.find` or RE2 scan of the blob, then
the line of each hit from the offsets, instead of a Python call per line."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import re2

from vigil.logs._api import Lines
from vigil.logs.logql import ast
from vigil.logs.logql.pattern import Pattern
from vigil.logs.logql.prefilter import contains, regex_needle

Bools = npt.NDArray[np.bool_]

_SCAN_OPTIONS = re2.Options()
_SCAN_OPTIONS.never_nl = True
_SCAN_OPTIONS.log_errors = False
_LINE_OPTIONS = re2.Options()
_LINE_OPTIONS.log_errors = False
_CASELESS_LITERAL = re.compile(r"\(\?i\)([A-Za-z0-9 _\-:=/,;'\"]+)")
_IP_CANDIDATE = re.compile(rb"[0-9A-Fa-f:.]*[.:][0-9A-Fa-f:.]+")


class _RegexScan:
    """An unanchored RE2 search (Go's MatchString) over every line of a column."""

    def __init__(self, pattern: str) -> None:
        self.needle = regex_needle(pattern)
        self.line = re2.compile(pattern.encode(), _LINE_OPTIONS)
        self.blob = None
        if "\\A" not in pattern and "\\z" not in pattern:
            self.blob = re2.compile(f"(?m:{pattern})".encode(), _SCAN_OPTIONS)
        caseless = _CASELESS_LITERAL.fullmatch(pattern)
        self.caseless = caseless.group(1).lower().encode() if caseless else None

    def __call__(self, lines: Lines) -> Bools:
        if self.caseless is not None and lines.data.isascii():
            return contains(Lines(lines.data.lower(), lines.offsets), self.caseless)
        if self.needle is not None:
            mask = contains(lines, self.needle)
            search = self.line.search
            for i in np.flatnonzero(mask).tolist():
                mask[i] = search(lines[i]) is not None
            return mask
        if self.blob is None or b"\n" in lines.data:
            search = self.line.search
            return np.fromiter((search(line) is not None for line in lines), bool, len(lines))
        return self._scan_joined(lines)

    def _scan_joined(self, lines: Lines) -> Bools:
        """One scan of the lines joined by newlines (the program never matches one)."""
        assert self.blob is not None
        n = len(lines)
        mask = np.zeros(n, dtype=bool)
        if n == 0:
            return mask
        starts = lines.offsets[:-1] + np.arange(n)
        raw = np.frombuffer(lines.data, dtype=np.uint8)
        joined = np.insert(raw, lines.offsets[1:-1], 0x0A).tobytes()
        ends = lines.offsets[1:] + np.arange(n)
        pos, search = 0, self.blob.search
        while pos <= len(joined):
            found = search(joined, pos)
            if found is None:
                break
            line = int(np.searchsorted(starts, found.start(), side="right")) - 1
            mask[line] = True
            pos = int(ends[line]) + 1
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
