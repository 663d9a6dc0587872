"""Label matchers with Prometheus's semantics: regexes are fully anchored and `.` matches
newlines (`^(?s:re)$`); a matcher that matches "" also matches a missing label."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from vigil.model.labels import Labels


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
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, name: str, op: str, value: str) -> Matcher:
        """`Matcher.of("job", "=~", "node.*")`; a bad regex raises ValueError naming it."""
        mtype = MatchType(op)
        regex = None
        if mtype in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                regex = re.compile(value, re.DOTALL)
            except re.error as err:
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
        found = self._regex.fullmatch(value) is not None
        return found if self.type is MatchType.REGEX else not found

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
