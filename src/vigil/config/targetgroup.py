"""Target groups: the `static_configs` entries of a config and the contents of file_sd files
(JSON or YAML lists of `{targets: [...], labels: {...}}`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from vigil.config._yaml import ConfigError, Node, load_yaml
from vigil.config.relabel import is_valid_label_name
from vigil.model import Labels

ADDRESS_LABEL = "__address__"
_GROUP_KEYS = ("targets", "labels")


@dataclass(frozen=True, slots=True)
class TargetGroup:
    """Targets that share labels; `source` identifies the group (`0`, `file.yml:2`) as in Prometheus."""

    targets: tuple[str, ...]
    labels: Labels
    source: str
    line: int = 0

    def discovered(self) -> tuple[Labels, ...]:
        """Each target's labels before relabeling: `__address__` plus the group's labels."""
        return tuple(
            Labels.from_dict({**dict(self.labels), ADDRESS_LABEL: target})
            for target in self.targets
        )


def parse_target_group(node: Node, source: str) -> TargetGroup:
    fields = node.mapping(_GROUP_KEYS, "a target group")
    return TargetGroup(
        fields.strings("targets"), _label_set(fields.get("labels")), source, node.line
    )


def _label_set(node: Node | None) -> Labels:
    if node is None:
        return Labels()
    pairs = []
    for key, value in node.items():
        name = key.string()
        if not is_valid_label_name(name):
            raise key.error(f'"{name}" is not a valid label name')
        pairs.append((name, value.string()))
    return Labels.from_pairs(pairs)


def load_sd_file(path: str) -> tuple[TargetGroup, ...]:
    """Read one file_sd file; unknown keys and bad extensions are errors, as in Prometheus."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".json", ".yml", ".yaml"):
        raise ConfigError(
            path, 0, "", f'invalid file extension "{extension}" (use .json, .yml or .yaml)'
        )
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(path, 0, "", err.strerror or str(err)) from None
    if extension == ".json":
        return _json_groups(text, path)
    root = load_yaml(text, path)
    if root is None:
        return ()
    groups = []
    for index, item in enumerate(root.sequence()):
        if item.is_null:
            raise item.error(f"nil target group item found (index {index})")
        groups.append(parse_target_group(item, f"{path}:{index}"))
    return tuple(groups)


def _json_groups(text: str, path: str) -> tuple[TargetGroup, ...]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(path, err.lineno, "", f"invalid JSON: {err.msg}") from None
    if not isinstance(data, list):
        raise ConfigError(path, 1, "", "expected a JSON list of target groups")
    groups = []
    for index, item in enumerate(data):
        where = f"[{index}]"
        if item is None:
            raise ConfigError(path, 0, where, f"nil target group item found (index {index})")
        if not isinstance(item, dict):
            raise ConfigError(path, 0, where, "expected an object with targets and labels")
        for key in item:
            if key not in _GROUP_KEYS:
                raise ConfigError(path, 0, f"{where}.{key}", "unknown key in a target group")
        targets = item.get("targets") or []
        labels = item.get("labels") or {}
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ConfigError(path, 0, f"{where}.targets", "expected a list of strings")
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ConfigError(path, 0, f"{where}.labels", "expected an object of strings")
        for name in labels:
            if not is_valid_label_name(name):
                raise ConfigError(path, 0, f"{where}.labels", f'"{name}" is not a valid label name')
        groups.append(TargetGroup(tuple(targets), Labels.from_dict(labels), f"{path}:{index}"))
    return tuple(groups)
