"""Relabel rules as configured (`relabel_configs`, `metric_relabel_configs`, …), read from YAML and
validated the way Prometheus 3 validates them; applying them is `vigil.scrape.relabel`'s job."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from vigil.config._yaml import Node
from vigil.model.regex import Regex, RegexError

_LEGACY_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LEGACY_TEMPLATE = re.compile(r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+", re.ASCII)


class Action(enum.StrEnum):
    REPLACE = "replace"
    KEEP = "keep"
    DROP = "drop"
    KEEPEQUAL = "keepequal"
    DROPEQUAL = "dropequal"
    HASHMOD = "hashmod"
    LABELMAP = "labelmap"
    LABELDROP = "labeldrop"
    LABELKEEP = "labelkeep"
    LOWERCASE = "lowercase"
    UPPERCASE = "uppercase"


_NEEDS_TARGET = frozenset(
    {
        Action.REPLACE,
        Action.HASHMOD,
        Action.LOWERCASE,
        Action.UPPERCASE,
        Action.KEEPEQUAL,
        Action.DROPEQUAL,
    }
)
_NO_REPLACEMENT = frozenset(
    {Action.LOWERCASE, Action.UPPERCASE, Action.KEEPEQUAL, Action.DROPEQUAL}
)


class RelabelConfigError(ValueError):
    """An invalid rule; `field` names the offending key so a caller can point at its line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


DEFAULT_REGEX = Regex("(.*)")
DEFAULT_SEPARATOR = ";"
DEFAULT_REPLACEMENT = "$1"


def is_valid_label_name(name: str, legacy: bool = False) -> bool:
    """Prometheus 3 accepts any non-empty UTF-8 name; `legacy` is the classic `[a-zA-Z_]\\w*`."""
    if legacy:
        return _LEGACY_NAME.fullmatch(name) is not None
    return bool(name) and _is_utf8(name)


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class RelabelConfig:
    """One rule; construction validates it (RelabelConfigError) like Prometheus's Validate()."""

    source_labels: tuple[str, ...] = ()
    separator: str = DEFAULT_SEPARATOR
    target_label: str = ""
    regex: Regex = DEFAULT_REGEX
    modulus: int = 0
    replacement: str = DEFAULT_REPLACEMENT
    action: Action = Action.REPLACE
    source_labels_set: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.validate(legacy_names=False)

    def validate(self, legacy_names: bool) -> None:
        """Check the rule under a name validation scheme (`metric_name_validation_scheme`)."""
        action = self.action
        for name in self.source_labels:
            if not is_valid_label_name(name, legacy_names):
                raise RelabelConfigError("source_labels", f'"{name}" is not a valid label name')
        if action is Action.HASHMOD and self.modulus == 0:
            raise RelabelConfigError("modulus", "hashmod requires a non-zero modulus")
        if action in _NEEDS_TARGET and not self.target_label:
            raise RelabelConfigError("target_label", f"the {action} action requires target_label")
        if action is Action.REPLACE and "$" in self.target_label:
            valid = (
                _LEGACY_TEMPLATE.fullmatch(self.target_label) is not None
                if legacy_names
                else is_valid_label_name(self.target_label)
            )
        elif action in _NEEDS_TARGET:
            valid = is_valid_label_name(self.target_label, legacy_names)
        else:
            valid = True
        if not valid:
            raise RelabelConfigError(
                "target_label", f'"{self.target_label}" is not a valid target_label for {action}'
            )
        if action in _NO_REPLACEMENT and self.replacement != DEFAULT_REPLACEMENT:
            raise RelabelConfigError("replacement", f"replacement cannot be set for {action}")
        if action is Action.LABELMAP:
            template_ok = (
                _LEGACY_TEMPLATE.fullmatch(self.replacement) is not None
                if legacy_names
                else is_valid_label_name(self.replacement)
            )
            if not template_ok:
                raise RelabelConfigError(
                    "replacement", f'"{self.replacement}" is not a valid label name for labelmap'
                )
        if action in (Action.KEEPEQUAL, Action.DROPEQUAL):
            extra = self._set_fields("regex", "modulus", "separator", "replacement")
            if extra:
                raise RelabelConfigError(
                    extra, f"{action} takes only source_labels and target_label, not {extra}"
                )
        if action in (Action.LABELDROP, Action.LABELKEEP):
            extra = self._set_fields(
                "source_labels", "target_label", "modulus", "separator", "replacement"
            )
            if extra:
                raise RelabelConfigError(extra, f"{action} takes only regex, not {extra}")

    def _set_fields(self, *names: str) -> str:
        """The first of `names` that differs from its default ("" when none does)."""
        for name in names:
            if name == "source_labels":
                changed = self.source_labels_set or bool(self.source_labels)
            elif name == "regex":
                changed = self.regex.text != DEFAULT_REGEX.text
            else:
                changed = getattr(self, name) != getattr(_DEFAULTS, name)
            if changed:
                return name
        return ""


@dataclass(frozen=True, slots=True)
class _Defaults:
    target_label: str = ""
    modulus: int = 0
    separator: str = DEFAULT_SEPARATOR
    replacement: str = DEFAULT_REPLACEMENT


_DEFAULTS = _Defaults()


_RELABEL_KEYS = (
    "source_labels",
    "separator",
    "target_label",
    "regex",
    "modulus",
    "replacement",
    "action",
)


def parse_relabel_configs(node: Node | None, legacy: bool, what: str) -> tuple[RelabelConfig, ...]:
    if node is None:
        return ()
    out = []
    for item in node.sequence():
        if item.is_null:
            raise item.error(f"empty or null {what}")
        out.append(parse_relabel_config(item, legacy))
    return tuple(out)


def parse_relabel_config(node: Node, legacy: bool = False) -> RelabelConfig:
    """One relabel rule from YAML; errors point at the offending key's line."""
    fields = node.mapping(_RELABEL_KEYS, "a relabel rule")
    action_text = fields.string("action", "replace")
    try:
        action = Action(action_text.lower())
    except ValueError:
        raise fields.key("action").error(
            f'unknown relabel action "{action_text}" (one of {", ".join(a.value for a in Action)})'
        ) from None
    regex = DEFAULT_REGEX
    regex_node = fields.get("regex")
    if regex_node is not None:
        text = regex_node.string()
        try:
            regex = Regex(text)
        except RegexError as err:
            raise regex_node.error(f'"{text}" is not a valid regular expression: {err}') from None
    elif "regex" in fields.entries:
        regex = Regex("")
    source_node = fields.get("source_labels")
    try:
        config = RelabelConfig(
            source_labels=fields.strings("source_labels"),
            separator=fields.string("separator", ";") if "separator" in fields else ";",
            target_label=fields.string("target_label"),
            regex=regex,
            modulus=fields.uint("modulus"),
            replacement=fields.string("replacement", "$1")
            if "replacement" in fields.entries
            else "$1",
            action=action,
            source_labels_set=source_node is not None,
        )
        if legacy:
            config.validate(legacy_names=True)
    except RelabelConfigError as err:
        raise fields.key(err.field).error(err.message) from None
    return config
