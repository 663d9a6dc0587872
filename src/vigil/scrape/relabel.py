"""Relabeling with Prometheus's exact semantics, and the target-level label rules around it.

`relabel()` applies `relabel_configs`-style rules to a label set (None = dropped);
`populate_labels()` / `target_labels()` turn a discovered target into its final labels the way
Prometheus 3's scrape manager does; `alertmanager_labels()` does the same for Alertmanagers.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Sequence

from vigil.config.alerting import AlertmanagerConfig
from vigil.config.duration import Duration, DurationError
from vigil.config.relabel import (
    DEFAULT_REGEX,
    Action,
    RelabelConfig,
    RelabelConfigError,
    is_valid_label_name,
)
from vigil.config.scrape import ScrapeConfig
from vigil.model import Labels
from vigil.model.regex import Regex, RegexMatch

__all__ = [
    "Action",
    "Regex",
    "RelabelConfig",
    "RelabelConfigError",
    "TargetError",
    "alertmanager_labels",
    "expand",
    "populate_labels",
    "relabel",
    "target_labels",
]

ADDRESS = "__address__"
SCHEME = "__scheme__"
METRICS_PATH = "__metrics_path__"
SCRAPE_INTERVAL = "__scrape_interval__"
SCRAPE_TIMEOUT = "__scrape_timeout__"
ALERTS_PATH = "__alerts_path__"
PARAM_PREFIX = "__param_"
META_PREFIX = "__meta_"
RESERVED_PREFIX = "__"


class TargetError(ValueError):
    """A discovered target that cannot be scraped (no address, a URL as address, bad interval)."""


def relabel(labels: Labels, configs: Sequence[RelabelConfig]) -> Labels | None:
    """Apply `configs` in order; None when a rule drops the label set."""
    if not configs:
        return labels
    builder = dict(labels)
    for config in configs:
        if not _apply(config, builder):
            return None
    return Labels.from_dict(builder)


def _set(builder: dict[str, str], name: str, value: str) -> None:
    """Prometheus's labels.Builder.Set: setting an empty value deletes the label."""
    if value:
        builder[name] = value
    else:
        builder.pop(name, None)


def _apply(config: RelabelConfig, builder: dict[str, str]) -> bool:
    value = config.separator.join(builder.get(name, "") for name in config.source_labels)
    action = config.action
    if action is Action.DROP:
        return not config.regex.matches(value)
    if action is Action.KEEP:
        return config.regex.matches(value)
    if action is Action.DROPEQUAL:
        return builder.get(config.target_label, "") != value
    if action is Action.KEEPEQUAL:
        return builder.get(config.target_label, "") == value
    if action is Action.REPLACE:
        _replace(config, value, builder)
    elif action is Action.LOWERCASE:
        _set(builder, config.target_label, value.lower())
    elif action is Action.UPPERCASE:
        _set(builder, config.target_label, value.upper())
    elif action is Action.HASHMOD:
        _set(builder, config.target_label, str(hashmod(value, config.modulus)))
    elif action is Action.LABELMAP:
        for name, label_value in sorted(builder.items()):
            match = config.regex.captures(name)
            if match is not None:
                new_name = expand(config.replacement, match)
                if new_name:
                    _set(builder, new_name, label_value)
    elif action is Action.LABELDROP:
        for name in [n for n in builder if config.regex.matches(n)]:
            del builder[name]
    elif action is Action.LABELKEEP:
        for name in [n for n in builder if not config.regex.matches(n)]:
            del builder[name]
    return True


def _replace(config: RelabelConfig, value: str, builder: dict[str, str]) -> None:
    if (
        value == ""
        and config.regex is DEFAULT_REGEX
        and "$" not in config.target_label
        and "$" not in config.replacement
    ):
        _set(builder, config.target_label, config.replacement)
        return
    match = config.regex.captures(value)
    if match is None:
        return
    target = expand(config.target_label, match)
    if not is_valid_label_name(target):
        return
    result = expand(config.replacement, match)
    if result:
        builder[target] = result
    else:
        builder.pop(target, None)


def hashmod(value: str, modulus: int) -> int:
    """md5 of the value; its last 8 bytes as a big-endian uint64, modulo `modulus`."""
    digest = hashlib.md5(value.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % modulus


def _is_name_char(char: str) -> bool:
    return char.isalpha() or char.isdecimal() or char == "_"


def expand(template: str, match: RegexMatch) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; an unknown group is empty and
    `$name` takes the longest run of letters, digits and `_` (`$1x` is group "1x")."""
    out: list[str] = []
    rest = template
    while True:
        before, dollar, rest = rest.partition("$")
        out.append(before)
        if not dollar:
            return "".join(out)
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        brace = rest.startswith("{")
        body = rest[1:] if brace else rest
        end = 0
        while end < len(body) and _is_name_char(body[end]):
            end += 1
        name = body[:end]
        if not name or (brace and not body.startswith("}", end)):
            out.append("$")
            continue
        rest = body[end + 1 :] if brace else body[end:]
        out.append(_group(match, name))


def _group(match: RegexMatch, name: str) -> str:
    if name.isascii() and name.isdigit() and not (name.startswith("0") and len(name) > 1):
        index = int(name)
        if index > match.re.groups:
            return ""
        return match.group(index) or ""
    index_of = match.re.groupindex.get(name)
    return "" if index_of is None else (match.group(index_of) or "")


def populate_labels(discovered: Labels, config: ScrapeConfig) -> tuple[Labels | None, Labels]:
    """Prometheus's PopulateLabels: (the target's labels including `__address__`, `__scheme__`,
    `__metrics_path__`, `__param_*` but not `__meta_*`, or None if relabeling dropped it;
    the discovered labels with the job's defaults filled in, as the targets page shows them).
    Raises TargetError for a target that cannot be scraped."""
    builder = dict(discovered)
    for name, value in (
        ("job", config.job_name),
        (SCRAPE_INTERVAL, str(config.scrape_interval)),
        (SCRAPE_TIMEOUT, str(config.scrape_timeout)),
        (METRICS_PATH, config.metrics_path),
        (SCHEME, config.scheme),
    ):
        if not builder.get(name):
            _set(builder, name, value)
    for key, values in config.params:
        name = PARAM_PREFIX + key
        if values and not builder.get(name):
            _set(builder, name, values[0])
    full = Labels.from_dict(builder)
    result = relabel(full, config.relabel_configs)
    if result is None:
        return None, full
    address = result.get(ADDRESS)
    if not address:
        raise TargetError("no address")
    _check_address(address)
    interval = _duration(result.get(SCRAPE_INTERVAL), "scrape interval")
    timeout = _duration(result.get(SCRAPE_TIMEOUT), "scrape timeout")
    if timeout > interval:
        raise TargetError(
            f'scrape timeout cannot be greater than scrape interval ("{timeout}" > "{interval}")'
        )
    final = {name: value for name, value in result if not name.startswith(META_PREFIX)}
    if not final.get("instance"):
        final["instance"] = address
    return Labels.from_dict(final), full


def target_labels(discovered: Labels, config: ScrapeConfig) -> tuple[Labels | None, Labels]:
    """The labels a target's series get (no `__`-prefixed ones), or None if dropped; plus the
    discovered labels for the targets page. Raises TargetError like populate_labels."""
    labels, full = populate_labels(discovered, config)
    if labels is None:
        return None, full
    return Labels(pair for pair in labels if not pair[0].startswith(RESERVED_PREFIX)), full


def alertmanager_labels(discovered: Labels, config: AlertmanagerConfig) -> Labels | None:
    """Prometheus's AlertmanagerFromGroup for one target: `__scheme__` and `__alerts_path__`
    set from the config, relabeled; None when dropped. Raises TargetError for a URL address."""
    builder = dict(discovered)
    builder[SCHEME] = config.scheme
    builder[ALERTS_PATH] = _clean_path(f"/{config.path_prefix}/api/{config.api_version}/alerts")
    result = relabel(Labels.from_dict(builder), config.relabel_configs)
    if result is None:
        return None
    _check_address(result.get(ADDRESS))
    return result


def _clean_path(path: str) -> str:
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/")


def _check_address(address: str) -> None:
    if "/" in address:
        raise TargetError(f'"{address}" is not a valid hostname (a target is host:port, not a URL)')


def _duration(text: str, what: str) -> Duration:
    try:
        duration = Duration.parse(text)
    except DurationError as err:
        raise TargetError(f"error parsing {what}: {err}") from None
    if not duration:
        raise TargetError(f"{what} cannot be 0")
    return duration
