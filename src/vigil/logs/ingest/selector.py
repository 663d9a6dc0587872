"""A stream's labels written as a selector, `{app="web", env="prod"}`: how Loki's protobuf and
legacy JSON pushes carry them. Read by the LogQL parser, as Loki reads them; only `=`
matchers make a label set. Senders repeat the same few strings, so results are cached."""

from __future__ import annotations

from vigil.logs.logql import ParseError, ast, parse
from vigil.model import Labels, MatchType

_MAX_CACHED = 1 << 14
_cache: dict[str, Labels] = {}


class SelectorError(ValueError):
    """A label-set string that is not `{name="value", ...}`; says where it goes wrong."""


def parse_labels(text: str) -> Labels:
    """The label set of `text` (`{}` is the empty set); raises SelectorError."""
    found = _cache.get(text)
    if found is not None:
        return found
    found = _parse(text)
    if len(_cache) >= _MAX_CACHED:
        _cache.clear()
    _cache[text] = found
    return found


def _parse(text: str) -> Labels:
    if text.replace(" ", "") == "{}":
        return Labels()
    try:
        query = parse(text)
    except ParseError as err:
        raise SelectorError(f"{text!r}: {err}") from None
    if not isinstance(query, ast.LogQuery) or query.stages:
        raise SelectorError(f"{text!r}: a label set is a selector and nothing else")
    pairs = []
    for matcher in query.matchers:
        if matcher.type is not MatchType.EQUAL:
            raise SelectorError(f'{text!r}: a label set has only name="value" pairs')
        if matcher.value:  # an empty label is no label
            pairs.append((matcher.name, matcher.value))
    try:
        return Labels.from_pairs(pairs)
    except ValueError as err:
        raise SelectorError(f"{text!r}: {err}") from None
