"""Tempo's tag autocomplete: the attribute names of the spans in range by scope (resource,
span, and the TraceQL intrinsics), and the values of one tag — v1 as plain strings of an
unscoped attribute (`service.name`), v2 typed (`{"type": "int", "value": "200"}`) for a
TraceQL identifier (`resource.service.name`, `span.http.route`, `.http.route`, `name`,
`status`, `kind`, ...). Resources are read once per distinct resource, names and enums
from their columns; only span attributes are read span by span."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from vigil.traces import (
    KIND_NAMES,
    STATUS_NAMES,
    AttrValue,
    SpanQuerier,
    Spans,
)
from vigil.web.trace_search import value_text

SCOPES = ("resource", "span", "intrinsic")
INTRINSICS = (
    "duration",
    "kind",
    "name",
    "rootName",
    "rootServiceName",
    "status",
    "statusMessage",
    "traceDuration",
)
MAX_VALUES = 10_000


@dataclass(slots=True)
class TagNames:
    resource: set[str] = field(default_factory=set)
    span: set[str] = field(default_factory=set)

    def of(self, scope: str) -> list[str]:
        if scope == "resource":
            return sorted(self.resource)
        if scope == "span":
            return sorted(self.span)
        return list(INTRINSICS)


def _resources(batch: Spans) -> Iterator[int]:
    return iter(np.unique(batch.resource).tolist())


def tag_names(querier: SpanQuerier) -> TagNames:
    names = TagNames()
    for batch in querier.select():
        for r in _resources(batch):
            names.resource.update(k for k, _ in batch.resources[r].attributes)
        names.span.update(k for attributes in batch.attributes for k, _ in attributes)
    return names


def value_type(value: AttrValue) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string"


class _Values:
    """Distinct (type, value) pairs, in first-seen order, at most MAX_VALUES."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], None] = {}

    def add(self, kind: str, value: str) -> None:
        if len(self.seen) < MAX_VALUES:
            self.seen.setdefault((kind, value), None)

    def attribute(self, value: AttrValue) -> None:
        self.add(value_type(value), value_text(value))

    def sorted(self) -> list[tuple[str, str]]:
        return sorted(self.seen, key=lambda pair: pair[1])


def _scan(querier: SpanQuerier, scope: str, name: str) -> list[tuple[str, str]]:
    """The typed values of attribute `name` in `scope` (`resource`, `span` or both: "")."""
    values = _Values()
    for batch in querier.select():
        if scope in ("", "resource"):
            for r in _resources(batch):
                for key, value in batch.resources[r].attributes:
                    if key == name:
                        values.attribute(value)
        if scope in ("", "span"):
            for attributes in batch.attributes:
                for key, value in attributes:
                    if key == name:
                        values.attribute(value)
    return values.sorted()


def _intrinsic(querier: SpanQuerier, name: str) -> list[tuple[str, str]]:
    values = _Values()
    for batch in querier.select():
        if name in ("name", "statusMessage", "rootName", "rootServiceName"):
            column = {
                "name": batch.name,
                "statusMessage": batch.status_message,
                "rootName": batch.name[batch.parent_id_words() == 0],
                "rootServiceName": batch.service[batch.parent_id_words() == 0],
            }[name]
            for code in np.unique(column).tolist():
                if batch.strings[code]:
                    values.add("string", batch.strings[code])
        elif name == "status":
            for code in np.unique(batch.status_code).tolist():
                values.add("keyword", STATUS_NAMES[code])
        elif name == "kind":
            for code in np.unique(batch.kind).tolist():
                values.add("keyword", KIND_NAMES[code])
    return values.sorted()


def tag_values_v2(querier: SpanQuerier, tag: str) -> list[tuple[str, str]]:
    """Typed values of a TraceQL identifier; intrinsics without values (durations) have none."""
    if tag in INTRINSICS:
        return _intrinsic(querier, tag)
    scope, _, name = tag.partition(".")
    if scope not in ("", "resource", "span") or not name:
        raise ValueError(
            f"invalid tag {tag!r}: want name, status, kind, .attr, span.attr or resource.attr"
        )
    return _scan(querier, scope, name)


def tag_values_v1(querier: SpanQuerier, tag: str) -> list[str]:
    """Values of an unscoped attribute (span or resource); `name` and `status.code` too."""
    if tag == "name":
        pairs = _intrinsic(querier, "name")
    elif tag == "status.code":
        pairs = _intrinsic(querier, "status")
    else:
        pairs = _scan(querier, "", tag)
    return sorted({value for _, value in pairs})
