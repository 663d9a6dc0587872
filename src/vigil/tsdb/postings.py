"""In-memory postings (label pair -> ascending series refs) and Prometheus's selection of
series for a set of matchers (`PostingsForMatchers`): intersect what must match, subtract
what must not, with direct look-ups for `=` and for regexes that are literal alternations."""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from vigil.model import Labels, Matcher, MatchType
from vigil.model.sorted_set import sorted_set

RefArray = npt.NDArray[np.int64]

_EMPTY: RefArray = np.empty(0, dtype=np.int64)
_REGEX_META = frozenset(".^$*+?{}[]\\|()")


def literal_alternatives(pattern: str) -> list[str] | None:
    """The literal strings a regex is an alternation of (`a|b|c`, `(?:x|y)`, `a\\.b`),
    or None when it uses any other regex syntax (then values are tested one by one)."""
    body = pattern
    if body.startswith("(?:") and body.endswith(")"):
        body = body[3:-1]
    elif body.startswith("(") and body.endswith(")") and not body.startswith("(?"):
        body = body[1:-1]
    alternatives: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            if i + 1 < len(body) and body[i + 1] in _REGEX_META:
                current.append(body[i + 1])
                i += 2
                continue
            return None
        if char == "|":
            alternatives.append("".join(current))
            current = []
        elif char in _REGEX_META:
            return None
        else:
            current.append(char)
        i += 1
    alternatives.append("".join(current))
    return alternatives


_Refs: TypeAlias = "array[int] | int"


def _as_refs(values: _Refs) -> RefArray:
    if isinstance(values, int):
        return np.array([values], dtype=np.int64)
    return np.frombuffer(values, dtype=np.int64).copy() if len(values) else _EMPTY


def _count(values: _Refs) -> int:
    return 1 if isinstance(values, int) else len(values)


def _held(refs: RefArray) -> _Refs:
    return int(refs[0]) if len(refs) == 1 else array("q", refs.astype(np.int64).tobytes())


class MemPostings:
    """Label pair -> ascending series refs, kept as compact `array('q')` (8 bytes a ref), or
    as the plain ref of a pair only one series has (a label unique per series costs no array)."""

    def __init__(self) -> None:
        self._by_name: dict[str, dict[str, _Refs]] = {}

    @classmethod
    def from_lists(cls, lists: Iterable[tuple[str, str, RefArray]]) -> MemPostings:
        """Postings read from disk: (name, value, ascending refs) per label pair."""
        postings = cls()
        for name, value, refs in lists:
            values = postings._by_name.setdefault(name, {})
            values[value] = _held(refs)
        return postings

    def add(self, ref: int, labels: Labels) -> None:
        for name, value in labels:
            values = self._by_name.get(name)
            if values is None:
                values = self._by_name[name] = {}
            refs = values.get(value)
            if refs is None:
                values[value] = ref
            elif isinstance(refs, int):
                if refs != ref:
                    values[value] = array("q", sorted((refs, ref)))
            elif not refs or refs[-1] < ref:
                refs.append(ref)
            else:
                refs.insert(bisect.bisect_left(refs, ref), ref)

    def add_after(self, first: int, labels: Iterable[Labels]) -> None:
        """Series `first`, `first + 1`, … with these labels, each ref above every one held."""
        by_name = self._by_name
        for ref, series in enumerate(labels, first):
            for name, value in series:
                values = by_name.get(name)
                if values is None:
                    values = by_name[name] = {}
                refs = values.get(value)
                if refs is None:
                    values[value] = ref
                elif isinstance(refs, int):
                    values[value] = array("q", (refs, ref))
                else:
                    refs.append(ref)

    def remove(self, dead: Iterable[tuple[int, Labels]]) -> None:
        """Drop series from every list they are in (head truncation's garbage collection)."""
        touched: dict[tuple[str, str], list[int]] = {}
        for ref, labels in dead:
            for pair in labels:
                touched.setdefault(pair, []).append(ref)
        for (name, value), refs in touched.items():
            values = self._by_name[name]
            kept = np.setdiff1d(_as_refs(values[value]), np.asarray(refs, dtype=np.int64))
            if len(kept):
                values[value] = _held(kept)
            else:
                del values[value]
                if not values:
                    del self._by_name[name]

    def get(self, name: str, value: str) -> RefArray:
        refs = self._by_name.get(name, {}).get(value)
        return _as_refs(refs) if refs is not None else _EMPTY

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def values(self, name: str) -> list[str]:
        return list(self._by_name.get(name, ()))

    def cardinality(self, name: str) -> dict[str, int]:
        """Series count per value of one label name."""
        return {value: _count(refs) for value, refs in self._by_name.get(name, {}).items()}

    def value_counts(self) -> dict[str, int]:
        """Number of distinct values per label name."""
        return {name: len(values) for name, values in self._by_name.items()}

    def union(self, name: str, values: Iterable[str]) -> RefArray:
        known = self._by_name.get(name, {})
        parts = [_as_refs(known[v]) for v in values if v in known]
        if not parts:
            return _EMPTY
        if len(parts) == 1:
            return parts[0]
        return sorted_set(np.concatenate(parts))


def _union_where(postings: MemPostings, matcher: Matcher, want: bool) -> RefArray:
    values = postings.values(matcher.name)
    accepted = matcher.accepted(values)
    if not want:
        hit = set(accepted)
        return postings.union(matcher.name, [v for i, v in enumerate(values) if i not in hit])
    return postings.union(matcher.name, [values[i] for i in accepted])


def _matching(postings: MemPostings, matcher: Matcher) -> RefArray:
    """Refs of series whose label has a value the matcher accepts (missing labels excluded)."""
    if matcher.type is MatchType.EQUAL:
        return postings.get(matcher.name, matcher.value)
    if matcher.type is MatchType.REGEX:
        literals = literal_alternatives(matcher.value)
        if literals is not None:
            return postings.union(matcher.name, literals)
    return _union_where(postings, matcher, want=True)


def _rejected(postings: MemPostings, matcher: Matcher) -> RefArray:
    """Refs of series whose label has a value the matcher refuses."""
    if matcher.type is MatchType.NOT_EQUAL:
        return postings.get(matcher.name, matcher.value)
    if matcher.type is MatchType.NOT_REGEX:
        literals = literal_alternatives(matcher.value)
        if literals is not None:
            return postings.union(matcher.name, literals)
    return _union_where(postings, matcher, want=False)


def select_refs(
    postings: MemPostings, matchers: Sequence[Matcher], all_refs: Callable[[], RefArray]
) -> RefArray:
    """Ascending refs of the series matching every matcher, with Prometheus's rule that a
    matcher accepting "" also accepts series without that label."""
    positive = [m for m in matchers if not m.matches_empty()]
    negative = [m for m in matchers if m.matches_empty()]
    if positive:
        # Most selective first: `=` look-ups are cheapest and usually smallest.
        positive.sort(key=lambda m: m.type is not MatchType.EQUAL)
        result = _matching(postings, positive[0])
        for matcher in positive[1:]:
            if not len(result):
                return _EMPTY
            result = np.intersect1d(result, _matching(postings, matcher), assume_unique=True)
    else:
        result = all_refs()
    for matcher in negative:
        if not len(result):
            break
        drop = _rejected(postings, matcher)
        if len(drop):
            result = np.setdiff1d(result, drop, assume_unique=True)
    return result
