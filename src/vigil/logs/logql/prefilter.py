"""Literals a line must contain to pass a line filter, found without running the filter.

`|= "x"` needs `x`; `|~ "GET /api/\\d+"` needs `GET /api/` (the longest run of plain characters
outside groups, classes and optional parts, when the pattern has no top-level alternation and
no case folding). The store skips chunks lacking a needle (`SelectHints.needles`) and the
regex filter runs RE2 only on lines a needle scan found.
"""

from __future__ import annotations

from vigil.logs.logql import ast

_BREAKS = frozenset(".^$")
_OPTIONAL = frozenset("*?{")


def regex_needle(pattern: str) -> bytes | None:
    """A byte string every match of `pattern` contains, or None when none is known."""
    if _has_flag(pattern, "i"):
        return None
    runs: list[str] = []
    run: list[str] = []
    i = 0
    while i < len(pattern):
        char, following = pattern[i], pattern[i + 1 : i + 2]
        if char == "|":
            return None
        if char in "([":
            i = _group_end(pattern, i) if char == "(" else _class_end(pattern, i)
            runs.append("".join(run))
            run.clear()
            continue
        if char == "\\":
            literal = following and not following.isalnum() and following.isascii()
            step = 2
            if following == "Q":
                end = pattern.find("\\E", i)
                step = len(pattern) - i if end == -1 else end + 2 - i
            char, following = (following if literal else ""), pattern[i + 2 : i + 3]
        else:
            step = 1
            if char in _BREAKS or char in "*+?{}":
                char = ""
                if pattern[i] == "{":
                    close = pattern.find("}", i)
                    step = len(pattern) - i if close == -1 else close + 1 - i
        if char and following not in _OPTIONAL:
            run.append(char)
            if following == "+":
                runs.append("".join(run))
                run.clear()
        else:
            runs.append("".join(run))
            run.clear()
        i += step
    runs.append("".join(run))
    best = max(runs, key=len)
    return best.encode() if best else None


def _has_flag(pattern: str, flag: str) -> bool:
    start = 0
    while (at := pattern.find("(?", start)) != -1:
        end = at + 2
        while end < len(pattern) and pattern[end] not in ":)":
            end += 1
        if flag in pattern[at + 2 : end].split("-")[0]:
            return True
        start = at + 2
    return False


def _group_end(pattern: str, at: int) -> int:
    """The index after the group opened at `at` (classes and escapes inside skipped)."""
    depth, i = 0, at
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i)
            continue
        depth += (char == "(") - (char == ")")
        i += 1
        if depth == 0:
            return i
    return i


def _class_end(pattern: str, at: int) -> int:
    i = at + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def filter_needles(line_filter: ast.LineFilter) -> tuple[bytes, ...]:
    """What every line passing `line_filter` contains (nothing for `or` chains and negations)."""
    if line_filter.negated or len(line_filter.terms) != 1:
        return ()
    term = line_filter.terms[0]
    if term.ip:
        return ()
    if line_filter.op == "|=":
        return (term.value.encode(),) if term.value else ()
    if line_filter.op == "|~":
        needle = regex_needle(term.value)
        return (needle,) if needle else ()
    return ()


def query_needles(query: ast.LogQuery) -> tuple[bytes, ...]:
    """The needles of the line filters that see the stored line (those before any stage that
    rewrites it)."""
    needles: list[bytes] = []
    for stage in query.stages:
        if isinstance(stage, ast.LineFormat | ast.Decolorize | ast.UnpackParser):
            break
        if isinstance(stage, ast.LineFilter):
            needles += filter_needles(stage)
    return tuple(dict.fromkeys(needles))
