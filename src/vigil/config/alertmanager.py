"""`alertmanager.yml`: loaded and validated with Alertmanager's rules (required fields, `_file`
versus inline exclusivity, global defaults filled into receivers), so a file vigil accepts is one
Alertmanager accepts. Errors use Alertmanager's wording, prefixed `file:line: key.path:`."""

from __future__ import annotations

import collections.abc
import os
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.config._yaml import ConfigError, Mapping, Node, load_yaml
from vigil.config.duration import Duration
from vigil.config.http import HTTPClientConfig, Secret, TLSConfig
from vigil.config.matchers import MatcherParseError, new_matcher, parse_matchers
from vigil.config.receiver import (
    URL,
    Entry,
    HostPort,
    ReceiverKind,
    SecretURL,
    build,
    read_entry,
    read_values,
    yaml_keys,
)
from vigil.config.shown import shown_text
from vigil.model.matchers import Matcher, MatchType

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_NO_SECRET = Secret("")
_5M = Duration(5 * 60_000)
_NO_HTTP = HTTPClientConfig()
_NO_TLS = TLSConfig()


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class GlobalConfig:
    """`global:`; the defaults are Alertmanager's. Receivers already carry what they inherit."""

    resolve_timeout: Duration = _5M
    http_config: HTTPClientConfig = _NO_HTTP
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: HostPort = ""
    smtp_auth_username: str = ""
    smtp_auth_password: Secret = _NO_SECRET
    smtp_auth_password_file: str = ""
    smtp_auth_secret: Secret = _NO_SECRET
    smtp_auth_secret_file: str = ""
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    smtp_tls_config: TLSConfig = _NO_TLS
    smtp_force_implicit_tls: bool | None = None
    slack_api_url: SecretURL = _NO_SECRET
    slack_api_url_file: str = ""
    slack_app_token: Secret = _NO_SECRET
    slack_app_token_file: str = ""
    slack_app_url: URL = "https://slack.com/api/chat.postMessage"
    pagerduty_url: URL = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: URL = "https://api.opsgenie.com/"
    opsgenie_api_key: Secret = _NO_SECRET
    opsgenie_api_key_file: str = ""
    wechat_api_url: URL = "https://qyapi.weixin.qq.com/cgi-bin/"
    wechat_api_secret: Secret = _NO_SECRET
    wechat_api_secret_file: str = ""
    wechat_api_corp_id: str = ""
    victorops_api_url: URL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    victorops_api_key: Secret = _NO_SECRET
    victorops_api_key_file: str = ""
    telegram_api_url: URL = "https://api.telegram.org"
    telegram_bot_token: Secret = _NO_SECRET
    telegram_bot_token_file: str = ""
    webex_api_url: URL = "https://webexapis.com/v1/messages"
    rocketchat_api_url: URL = "https://open.rocket.chat/"
    rocketchat_token: Secret = _NO_SECRET
    rocketchat_token_file: str = ""
    rocketchat_token_id: Secret = _NO_SECRET
    rocketchat_token_id_file: str = ""
    mattermost_webhook_url: SecretURL = _NO_SECRET
    mattermost_webhook_url_file: str = ""
    jira_api_url: URL = ""


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    line: int
    integrations: tuple[ReceiverKind, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """A `route:` node as written: None means "inherit from the parent" (see alerting.route)."""

    line: int
    receiver: str = ""
    group_by: tuple[str, ...] | None = None
    group_by_all: bool = False
    matchers: tuple[Matcher, ...] = ()
    continue_matching: bool = False
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    routes: tuple[RouteConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class InhibitRule:
    line: int
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Inclusive ranges: minutes of the day (end exclusive), weekdays 0=Sunday, days of month
    (negative counts from the end), months 1-12, years; empty means "any"."""

    times: tuple[tuple[int, int], ...] = ()
    weekdays: tuple[tuple[int, int], ...] = ()
    days_of_month: tuple[tuple[int, int], ...] = ()
    months: tuple[tuple[int, int], ...] = ()
    years: tuple[tuple[int, int], ...] = ()
    location: str = "UTC"


@dataclass(frozen=True, slots=True)
class TimeInterval:
    name: str
    line: int
    ranges: tuple[TimeRange, ...]


@dataclass(frozen=True, slots=True)
class Config:
    """A whole alertmanager.yml; `templates` are globs already joined to the file's directory."""

    file: str
    global_config: GlobalConfig
    route: RouteConfig
    receivers: tuple[Receiver, ...]
    inhibit_rules: tuple[InhibitRule, ...] = ()
    templates: tuple[str, ...] = ()
    time_intervals: tuple[TimeInterval, ...] = ()

    shown: str = field(default="", compare=False, repr=False)
    """The file as every view shows it: secrets `<secret>` (see config.shown)."""

    def receiver(self, name: str) -> Receiver | None:
        return next((r for r in self.receivers if r.name == name), None)

    def sends_nowhere(self) -> bool:
        """Whether every receiver the route tree can end at has no integration: alerts are
        kept and shown, but no notification leaves (the shipped default's "null" receiver)."""
        names: set[str] = set()
        pending = [(self.route, "")]
        while pending:
            route, inherited = pending.pop()
            name = route.receiver or inherited
            names.add(name)
            pending.extend((child, name) for child in route.routes)
        return not any((r := self.receiver(n)) and r.integrations for n in names)


def looks_like_alertmanager(text: str) -> bool:
    """Whether a YAML text is an Alertmanager config (top-level `route` or `receivers`) rather
    than a Prometheus one; decides what `vigil check config` checks it as."""
    try:
        root = load_yaml(text, "")
    except ConfigError:
        return False
    if root is None or not root.raw.tag.endswith(":map"):
        return False
    keys = {key.string() for key, _ in root.items()}
    return bool(keys & {"route", "receivers"}) and not keys & {"scrape_configs", "rule_files"}


def load_config(path: str, kinds: Kinds) -> Config:
    """Read and parse `path`; `kinds` are the receiver kinds there may be (vigil.notify.KINDS)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(path, 0, "", err.strerror or str(err)) from None
    return parse_config(text, kinds, path)


_TOP_KEYS = (
    "global",
    "route",
    "inhibit_rules",
    "receivers",
    "templates",
    "mute_time_intervals",
    "time_intervals",
    "tracing",
)


def parse_config(text: str, kinds: Kinds, file: str = "alertmanager.yml") -> Config:
    """Parse and validate in Alertmanager's order: each block as it is decoded, then the global
    settings, then receivers against the globals, then the route tree."""
    root = load_yaml(text, file)
    base = os.path.dirname(file)
    if root is None:
        raise ConfigError(file, 0, "", "no route provided in config")
    top = root.mapping(_TOP_KEYS, "an Alertmanager config")
    glob_node = top.get("global")
    global_config = _global(glob_node, base) if glob_node is not None else GlobalConfig()
    route_node = top.get("route")
    route = _route(route_node) if route_node is not None else None
    inhibit = tuple(_inhibit_rule(node) for node in top.sequence("inhibit_rules"))
    receiver_nodes = top.sequence("receivers")
    raw_receivers = [_receiver(node, base, kinds) for node in receiver_nodes]
    templates = tuple(os.path.join(base, p) if base else p for p in top.strings("templates"))
    interval_nodes = [
        (node, kind)
        for kind, key in (
            ("mute time interval", "mute_time_intervals"),
            ("time interval", "time_intervals"),
        )
        for node in top.sequence(key)
    ]
    intervals = [_time_interval(node, kind) for node, kind in interval_nodes]
    _check_global(global_config, glob_node or root)
    receivers: list[Receiver] = []
    for node, (name, integrations) in zip(receiver_nodes, raw_receivers, strict=True):
        if any(r.name == name for r in receivers):
            raise node.error(f'notification config name "{name}" is not unique')
        resolved = tuple(_finish(kind, entry, global_config) for kind, entry in integrations)
        receivers.append(Receiver(name, node.line, resolved))
    if route is None or route_node is None:
        where = top.key("route") if "route" in top.entries else root
        raise where.error("no routes provided")
    _check_root_route(route, route_node)
    names = {r.name for r in receivers}
    _check_route_references(route, route_node, names, "receiver")
    seen: set[str] = set()
    for (node, kind), interval in zip(interval_nodes, intervals, strict=True):
        if interval.name in seen:
            raise node.error(f'{kind} "{interval.name}" is not unique')
        seen.add(interval.name)
    _check_route_references(route, route_node, seen, "time interval")
    return Config(
        file=file,
        global_config=global_config,
        route=route,
        receivers=tuple(receivers),
        inhibit_rules=inhibit,
        templates=templates,
        time_intervals=tuple(intervals),
        shown=shown_text(root),
    )


# --------------------------------------------------------------------------- global


def _global(node: Node, base: str) -> GlobalConfig:
    fields = node.mapping(yaml_keys(GlobalConfig), "global")
    return build(GlobalConfig, read_values(GlobalConfig, fields, base))


_GLOBAL_PAIRS = (
    ("slack_app_token", "slack_app_token_file"),
    ("slack_api_url", "slack_api_url_file"),
    ("opsgenie_api_key", "opsgenie_api_key_file"),
    ("victorops_api_key", "victorops_api_key_file"),
    ("telegram_bot_token", "telegram_bot_token_file"),
    ("smtp_auth_password", "smtp_auth_password_file"),
    ("rocketchat_token", "rocketchat_token_file"),
    ("rocketchat_token_id", "rocketchat_token_id_file"),
    ("smtp_auth_secret", "smtp_auth_secret_file"),
    ("wechat_api_secret", "wechat_api_secret_file"),
    ("mattermost_webhook_url", "mattermost_webhook_url_file"),
)


def _check_global(config: GlobalConfig, node: Node) -> None:
    fields = node.mapping(_AnyKey()) if node.raw.tag.endswith(":map") else None

    def fail(key: str, message: str) -> ConfigError:
        where = fields.key(key) if fields is not None and key in fields.entries else node
        return where.error(message)

    for inline, path in _GLOBAL_PAIRS:
        if getattr(config, inline) and getattr(config, path):
            raise fail(path, f"at most one of {inline} & {path} must be configured")
    has_token = bool(config.slack_app_token or config.slack_app_token_file)
    has_url = bool(config.slack_api_url or config.slack_api_url_file)
    if has_token and has_url and config.slack_api_url != config.slack_app_url:
        raise fail(
            "slack_api_url",
            "at most one of slack_app_token/slack_app_token_file & "
            "slack_api_url/slack_api_url_file must be configured",
        )


class _AnyKey(tuple[str, ...]):
    """An allowed-keys set that allows every key (for re-reading an already checked mapping)."""

    def __contains__(self, key: object) -> bool:
        return True


# --------------------------------------------------------------------------- route, inhibition


def _label_name(node: Node, message: str = 'invalid label name "{}"') -> str:
    name = node.string()
    if not _LABEL_NAME.match(name):
        raise node.error(message.format(name))
    return name


def _sorted_matchers(matchers: list[Matcher]) -> tuple[Matcher, ...]:
    """Alertmanager sorts a route's matchers by name, value, then type (its group keys show it)."""
    order = {MatchType.EQUAL: 0, MatchType.NOT_EQUAL: 1, MatchType.REGEX: 2, MatchType.NOT_REGEX: 3}
    return tuple(sorted(matchers, key=lambda m: (m.name, m.value, order[m.type])))


def _legacy_matchers(fields: Mapping, equal_key: str, regex_key: str) -> list[Matcher]:
    out: list[Matcher] = []
    equal = fields.get(equal_key)
    if equal is not None:
        for key, value in equal.items():
            out.append(new_matcher(_label_name(key), "=", value.string()))
    regex = fields.get(regex_key)
    if regex is not None:
        for key, value in regex.items():
            if value.is_null:
                raise value.error(f'invalid regexp value for "{key.string()}"')
            name = _label_name(key)
            try:
                out.append(new_matcher(name, "=~", value.string()))
            except MatcherParseError as err:
                raise value.error(str(err)) from None
    return out


def _matchers_list(fields: Mapping, key: str) -> list[Matcher]:
    out: list[Matcher] = []
    for item in fields.sequence(key):
        try:
            out.extend(parse_matchers(item.string()))
        except MatcherParseError as err:
            raise item.error(str(err)) from None
    return out


_ROUTE_KEYS = (
    "receiver",
    "group_by",
    "continue",
    "match",
    "match_re",
    "matchers",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
    "group_wait",
    "group_interval",
    "repeat_interval",
)


def _route(node: Node) -> RouteConfig:
    fields = node.mapping(_ROUTE_KEYS, "route")
    matchers = _legacy_matchers(fields, "match", "match_re") + _matchers_list(fields, "matchers")
    group_by: tuple[str, ...] | None = None
    group_by_all = False
    group_node = fields.get("group_by")
    if group_node is not None:
        names: list[str] = []
        for item in group_node.sequence():
            if item.string() == "...":
                group_by_all = True
                continue
            name = _label_name(item, 'invalid label name "{}" in group_by list')
            if name in names:
                raise item.error(f'duplicated label "{name}" in group_by')
            names.append(name)
        if names and group_by_all:
            raise group_node.error(
                "cannot have wildcard group_by (`...`) and other labels at the same time"
            )
        group_by = tuple(names) if names or not group_by_all else None
    timings: dict[str, Duration | None] = {}
    for key in ("group_wait", "group_interval", "repeat_interval"):
        value = fields.get(key)
        timings[key] = value.duration() if value is not None else None
        if key != "group_wait" and value is not None and not timings[key]:
            raise value.error(f"{key} cannot be zero")
    return RouteConfig(
        line=node.line,
        receiver=fields.string("receiver"),
        group_by=group_by,
        group_by_all=group_by_all,
        matchers=_sorted_matchers(matchers),
        continue_matching=fields.boolean("continue", False),
        group_wait=timings["group_wait"],
        group_interval=timings["group_interval"],
        repeat_interval=timings["repeat_interval"],
        mute_time_intervals=fields.strings("mute_time_intervals"),
        active_time_intervals=fields.strings("active_time_intervals"),
        routes=tuple(_route(child) for child in fields.sequence("routes")),
    )


def _check_root_route(route: RouteConfig, node: Node) -> None:
    fields = node.mapping(_ROUTE_KEYS, "route")
    if not route.receiver:
        raise node.error("root route must specify a default receiver")
    if route.matchers or any(k in fields for k in ("match", "match_re", "matchers")):
        raise node.error("root route must not have any matchers")
    if route.mute_time_intervals:
        raise fields.key("mute_time_intervals").error(
            "root route must not have any mute time intervals"
        )
    if route.active_time_intervals:
        raise fields.key("active_time_intervals").error(
            "root route must not have any active time intervals"
        )
    if route.continue_matching:
        raise fields.key("continue").error("cannot have continue in root route")


def _check_route_references(route: RouteConfig, node: Node, names: set[str], what: str) -> None:
    """Children first, as Alertmanager reports the deepest undefined name."""
    fields = node.mapping(_ROUTE_KEYS, "route")
    for child, child_node in zip(route.routes, fields.sequence("routes"), strict=True):
        _check_route_references(child, child_node, names, what)
    if what == "receiver":
        if route.receiver and route.receiver not in names:
            raise fields.key("receiver").error(
                f'undefined receiver "{route.receiver}" used in route'
            )
        return
    for key in ("active_time_intervals", "mute_time_intervals"):
        for item in fields.sequence(key):
            if item.string() not in names:
                raise item.error(f'undefined time interval "{item.string()}" used in route')


_INHIBIT_KEYS = (
    "name",
    "source_match",
    "source_match_re",
    "source_matchers",
    "target_match",
    "target_match_re",
    "target_matchers",
    "equal",
)


def _inhibit_rule(node: Node) -> InhibitRule:
    fields = node.mapping(_INHIBIT_KEYS, "inhibit_rules")
    source = _legacy_matchers(fields, "source_match", "source_match_re")
    target = _legacy_matchers(fields, "target_match", "target_match_re")
    equal = tuple(
        _label_name(item, 'invalid label name "{}" in equal list')
        for item in fields.sequence("equal")
    )
    return InhibitRule(
        line=node.line,
        source_matchers=tuple(source + _matchers_list(fields, "source_matchers")),
        target_matchers=tuple(target + _matchers_list(fields, "target_matchers")),
        equal=equal,
        name=fields.string("name"),
    )


# --------------------------------------------------------------------------- time intervals

_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})\Z")


def _time_interval(node: Node, what: str) -> TimeInterval:
    fields = node.mapping(("name", "time_intervals"), what)
    name = fields.string("name")
    if not name:
        raise node.error(f"missing name in {what}")
    return TimeInterval(
        name, node.line, tuple(_time_range(item) for item in fields.sequence("time_intervals"))
    )


def _time_range(node: Node) -> TimeRange:
    fields = node.mapping(
        ("times", "weekdays", "days_of_month", "months", "years", "location"), "time_intervals"
    )
    times: list[tuple[int, int]] = []
    for item in fields.sequence("times"):
        span = item.mapping(("start_time", "end_time"), "times")
        start = _clock(span.get("start_time"), item, "start_time")
        end = _clock(span.get("end_time"), item, "end_time")
        if start >= end:
            raise item.error("start time cannot be equal or greater than end time")
        times.append((start, end))
    location = fields.string("location", "UTC")
    if location not in ("UTC", "Local"):
        try:
            zoneinfo.ZoneInfo(location)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise fields.key("location").error(f"unknown time zone {location}") from None
    return TimeRange(
        times=tuple(times),
        weekdays=_ranges(fields, "weekdays", _named(_WEEKDAYS, 0), 0, 6, "weekday"),
        days_of_month=_ranges(fields, "days_of_month", int, -31, 31, "day of month"),
        months=_ranges(fields, "months", _named(_MONTHS, 1), 1, 12, "month"),
        years=_ranges(fields, "years", int, 1, 9999, "year"),
        location=location,
    )


def _clock(node: Node | None, owner: Node, key: str) -> int:
    if node is None:
        raise owner.error(f"{key} is required")
    match = _CLOCK.match(node.string())
    if match is None or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise node.error(f"couldn't parse timestamp {node.string()}, invalid format")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise node.error(f"timestamp {node.string()} out of range")
    return minutes


def _named(names: tuple[str, ...], first: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        lowered = text.lower()
        if lowered in names:
            return names.index(lowered) + first
        return int(text)

    return parse


def _ranges(
    fields: Mapping, key: str, parse: Callable[[str], int], low: int, high: int, what: str
) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for item in fields.sequence(key):
        text = item.string()
        first, sep, last = text.partition(":")
        try:
            start = parse(first.strip())
            end = parse(last.strip()) if sep else start
        except ValueError:
            raise item.error(f"{text} is not a valid {what}") from None
        if not (low <= start <= high and low <= end <= high) or (low < 0 and 0 in (start, end)):
            raise item.error(f"{text} is not a valid {what} (between {low} and {high})")
        if (start >= 0) == (end >= 0) and start > end:
            raise item.error(f"start {what} cannot be after the end {what} in {text}")
        out.append((start, end))
    return tuple(out)


# --------------------------------------------------------------------------- receivers

Kinds = collections.abc.Mapping[str, Callable[[], type[ReceiverKind]]]
"""Every receiver kind a config may name (`slack` for `slack_configs`), in the order
Alertmanager reads them, each with a function that returns its type: a kind is loaded only
when a config uses it."""


def _receiver(
    node: Node, base: str, kinds: Kinds
) -> tuple[str, list[tuple[type[ReceiverKind], Entry]]]:
    fields = node.mapping(("name", *(f"{name}_configs" for name in kinds)), "receivers")
    name = fields.string("name")
    if not name:
        raise node.error("missing name in receiver")
    integrations: list[tuple[type[ReceiverKind], Entry]] = []
    for kind_name, load in kinds.items():
        key = f"{kind_name}_configs"
        items = fields.sequence(key)
        if not items:
            continue
        kind = load()
        for item in items:
            entry = read_entry(kind, item, key, base)
            kind.check(entry)
            integrations.append((kind, entry))
    integrations.sort(key=lambda pair: pair[1].node.line)
    return name, integrations


def _finish(kind: type[ReceiverKind], entry: Entry, glob: GlobalConfig) -> ReceiverKind:
    """The entry with what it inherits from `global:` filled in; fails as Alertmanager does
    when a required value is set neither here nor there."""
    kind.inherit(entry, glob)
    return build(kind, entry.values, line=entry.node.line)
