"""Label matchers with Prometheus's semantics: regexes are RE2, fully anchored and `.` matches
newlines (`^(?s:re)$`); a matcher that matches "" also matches a missing label."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from vigil.model.labels import Labels
from vigil.model.regex import Anchor, Regex, RegexError


class MatchType(enum.StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    type: MatchType
    name: str
    value: str
    _regex: Regex | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, name: str, op: str, value: str, anchor: Anchor = Anchor.PROMETHEUS) -> Matcher:
        """`Matcher.of("job", "=~", "node.*")`; a bad regex raises ValueError naming it."""
        mtype = MatchType(op)
        regex = None
        if mtype in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                regex = Regex(value, anchor)
            except RegexError as err:
                raise ValueError(
                    f"invalid regular expression {value!r} for label {name!r}: {err}"
                ) from None
        return cls(mtype, name, value, regex)

    def matches(self, value: str) -> bool:
        """Whether a label value (\"\" when the label is missing) satisfies the matcher."""
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        assert self._regex is not None
        return self._regex.matches(value) is (self.type is MatchType.REGEX)

    def accepted(self, values: Sequence[str]) -> list[int]:
        """Indices of the values the matcher accepts, in order; regexes test them in bulk."""
        if self._regex is None:
            return [i for i, value in enumerate(values) if self.matches(value)]
        hits = self._regex.matching(values)
        if self.type is MatchType.REGEX:
            return hits
        hit_set = set(hits)
        return [i for i in range(len(values)) if i not in hit_set]

    def matches_empty(self) -> bool:
        """True when series *without* this label match (Prometheus's empty-value rule)."""
        return self.matches("")

    def matches_labels(self, labels: Labels) -> bool:
        return self.matches(labels.get(self.name))

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{escaped}"'


def matches_all(matchers: tuple[Matcher, ...] | list[Matcher], labels: Labels) -> bool:
    return all(m.matches(labels.get(m.name)) for m in matchers)
