"""Alertmanager's template data (`.Receiver`, `.Status`, `.Alerts`, `.GroupLabels`, …) and its
template set: the default templates shipped with vigil, then the user's `templates:` files, so a
receiver's `title: '{{ template "slack.default.title" . }}'` renders as Alertmanager 0.25's does.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

from vigil.alerting._api import Notification
from vigil.model.alert import Alert as ModelAlert
from vigil.model.labels import Labels
from vigil.template import GoTime, StringMap, Template, TemplateError
from vigil.template._ast import TextNode
from vigil.template._builtins import BUILTINS
from vigil.template._gotime import go_time_format
from vigil.template._parse import ParseError, Parser, Tree
from vigil.template.alertmanager import alertmanager_funcs
from vigil.template.html import escape_trees

_ZERO_TIME = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"
DEFAULT_TEMPLATES = ("default.tmpl", "email.tmpl")


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True, slots=True)
class Pair:
    name: str
    value: str


class Pairs(list[Pair]):
    """Alertmanager's template.Pairs: a sorted label list with `.Names` and `.Values`."""

    __go_methods__: ClassVar[dict[str, str]] = {"Names": "names", "Values": "values"}

    def names(self) -> list[str]:
        return [p.name for p in self]

    def values(self) -> list[str]:
        return [p.value for p in self]


class KV(StringMap):
    """Alertmanager's template.KV: a label map whose methods sort by name."""

    __go_methods__: ClassVar[dict[str, str]] = {
        "SortedPairs": "sorted_pairs",
        "Names": "sorted_names",
        "Values": "sorted_values",
        "Remove": "remove",
    }

    def sorted_pairs(self) -> Pairs:
        return Pairs(Pair(k, self[k]) for k in sorted(self))

    def sorted_names(self) -> list[str]:
        return sorted(self)

    def sorted_values(self) -> list[str]:
        return [self[k] for k in sorted(self)]

    def remove(self, keys: Sequence[str]) -> KV:
        drop = set(keys)
        return KV((k, v) for k, v in self.items() if k not in drop)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as templates see it (Alertmanager's template.Alert)."""

    __go_type__: ClassVar[str] = "template.Alert"

    status: str
    labels: KV
    annotations: KV
    starts_at: GoTime
    ends_at: GoTime
    generator_url: str
    fingerprint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": go_time_format(self.starts_at.when, _RFC3339_NANO),
            "endsAt": go_time_format(self.ends_at.when, _RFC3339_NANO),
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


class Alerts(list[Alert]):
    __go_methods__: ClassVar[dict[str, str]] = {"Firing": "firing", "Resolved": "resolved"}

    def firing(self) -> Alerts:
        return Alerts(a for a in self if a.status == "firing")

    def resolved(self) -> Alerts:
        return Alerts(a for a in self if a.status == "resolved")


@dataclass(frozen=True, slots=True)
class Data:
    """Dot in every notification template (Alertmanager's template.Data)."""

    __go_type__: ClassVar[str] = "*template.Data"

    receiver: str
    status: str
    alerts: Alerts
    group_labels: KV
    common_labels: KV
    common_annotations: KV
    external_url: str

    def to_json(self) -> dict[str, Any]:
        """The keys and order of Alertmanager's JSON (the webhook payload's first part)."""
        return {
            "receiver": self.receiver,
            "status": self.status,
            "alerts": [a.to_json() for a in self.alerts],
            "groupLabels": dict(self.group_labels),
            "commonLabels": dict(self.common_labels),
            "commonAnnotations": dict(self.common_annotations),
            "externalURL": self.external_url,
        }


def go_time(seconds: float) -> GoTime:
    """A model time (0.0 = unset) as Go's time.Time in UTC, at microsecond precision."""
    if not seconds:
        return GoTime(_ZERO_TIME)
    return GoTime(dt.datetime.fromtimestamp(round(seconds, 6), dt.UTC))


def _common(label_sets: list[Labels]) -> KV:
    if not label_sets:
        return KV()
    common = dict(label_sets[0])
    for labels in label_sets[1:]:
        if not common:
            break
        other = dict(labels)
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return KV(common)


def template_data(
    receiver: str,
    group_labels: Labels,
    alerts: Iterable[ModelAlert],
    now: float,
    external_url: str,
) -> Data:
    """Alertmanager's Template.Data: the receiver name regexp-quoted (as Alertmanager does),
    status "firing" if any alert fires at `now`, common labels/annotations of all alerts."""
    items = list(alerts)
    out = Alerts(
        Alert(
            status="resolved" if a.resolved_at(now) else "firing",
            labels=KV(a.labels),
            annotations=KV(a.annotations),
            starts_at=go_time(a.starts_at),
            ends_at=go_time(a.ends_at),
            generator_url=a.generator_url,
            fingerprint=f"{a.fingerprint:016x}",
        )
        for a in items
    )
    return Data(
        receiver=_quote_meta(receiver),
        status="firing" if any(a.status == "firing" for a in out) else "resolved",
        alerts=out,
        group_labels=KV(group_labels),
        common_labels=_common([a.labels for a in items]),
        common_annotations=_common([a.annotations for a in items]),
        external_url=external_url,
    )


def notification_data(notification: Notification, external_url: str) -> Data:
    return template_data(
        notification.receiver,
        notification.group_labels,
        notification.alerts,
        notification.now,
        external_url,
    )


_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta."""
    return _META.sub(r"\\\1", text)


# --------------------------------------------------------------------------- template set


class Templates:
    """The parsed template set (defaults, then user files: later definitions win) and
    Alertmanager's ExecuteTextString / ExecuteHTMLString over it.

    Each text is parsed as an unnamed template in a copy of the set, with `missingkey=zero`;
    `now` is the clock `since` measures against.
    """

    def __init__(self, files: list[dict[str, Tree]], now: Callable[[], float]) -> None:
        """`files`: each user template file's definitions, in order (the defaults come
        first; they are parsed when a template is first rendered, not at every load)."""
        self._files = files
        self._set: dict[str, Tree] | None = None
        self._funcs = _funcs(lambda: dt.datetime.fromtimestamp(now(), dt.UTC))
        self._parsed: dict[str, dict[str, Tree]] = {}

    @property
    def _trees(self) -> dict[str, Tree]:
        if self._set is None:
            trees: dict[str, Tree] = {}
            folder = resources.files("vigil.notify") / "templates"
            for name in DEFAULT_TEMPLATES:
                _merge(trees, name, (folder / name).read_text(encoding="utf-8"), self._funcs)
            for parsed in self._files:
                _add(trees, parsed)
            self._set = trees
        return self._set

    @classmethod
    def load(
        cls, patterns: Iterable[str] = (), now: Callable[[], float] | None = None
    ) -> Templates:
        """The default templates, then every file the `templates:` globs match (in glob order);
        a parse error names the file and line, as Alertmanager's does."""
        files: list[dict[str, Tree]] = []
        funcs = _funcs(lambda: dt.datetime.now(dt.UTC))
        for pattern in patterns:
            for path in sorted(glob.glob(pattern)):
                try:
                    with open(path, encoding="utf-8") as handle:
                        text = handle.read()
                except OSError as err:
                    raise TemplateError(f"{path}: {err.strerror or err}") from None
                files.append(_parse_one(os.path.basename(path), text, funcs, path))
        return cls(files, now or (lambda: dt.datetime.now(dt.UTC).timestamp()))

    def defined(self) -> list[str]:
        return sorted(self._trees)

    def text(self, text: str, data: Data) -> str:
        """ExecuteTextString: "" for an empty text, else the rendered text."""
        if not text:
            return ""
        return Template("", self._with(text), self._funcs, "zero").execute(data)

    def html(self, text: str, data: Data) -> str:
        """ExecuteHTMLString: as `text`, with html/template's contextual escaping of every
        value printed (the email body)."""
        if not text:
            return ""
        escaped, funcs = escape_trees(self._with(text), "", self._funcs)
        return Template("", escaped, funcs, "zero").execute(data)

    def _with(self, text: str) -> dict[str, Tree]:
        """The set plus `text` parsed as template "" (parsed once per distinct text; a
        receiver's few templates are rendered at every notification)."""
        parsed = self._parsed.get(text)
        if parsed is None:
            parsed = self._parsed[text] = _parse_one("", text, self._funcs)
        trees = dict(self._trees)
        _add(trees, parsed)
        return trees


def _funcs(now: Callable[[], dt.datetime]) -> dict[str, Callable[..., Any]]:
    return {**BUILTINS, **alertmanager_funcs(now)}


def _merge(
    trees: dict[str, Tree],
    name: str,
    text: str,
    funcs: dict[str, Callable[..., Any]],
    path: str = "",
) -> None:
    """Parse one file into its own set, then add it: a non-empty definition replaces an earlier
    one, an empty one never does (Go's AddParseTree across Parse calls)."""
    _add(trees, _parse_one(name, text, funcs, path))


def _parse_one(
    name: str, text: str, funcs: dict[str, Callable[..., Any]], path: str = ""
) -> dict[str, Tree]:
    parsed: dict[str, Tree] = {}
    try:
        Parser(name, text, funcs, parsed).parse()
    except ParseError as err:
        raise TemplateError(f"template: {path or name}:{err.line}: {err.message}") from None
    return parsed


def _add(trees: dict[str, Tree], parsed: dict[str, Tree]) -> None:
    for key, tree in parsed.items():
        if key in trees and _is_empty(tree):
            continue
        trees[key] = tree


def _is_empty(tree: Tree) -> bool:
    """Go's parse.IsEmptyTree: nothing but whitespace text."""
    return all(isinstance(n, TextNode) and not n.text.strip() for n in tree.root.nodes)
