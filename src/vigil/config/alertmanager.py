"""`alertmanager.yml`: loaded and validated with Alertmanager's rules (required fields, `_file`
versus inline exclusivity, global defaults filled into receivers), so a file vigil accepts is one
Alertmanager accepts. Errors use Alertmanager's wording, prefixed `file:line: key.path:`."""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import ClassVar
from urllib.parse import urlsplit

from vigil.config._yaml import ConfigError, Mapping, Node, load_yaml
from vigil.config.duration import Duration
from vigil.config.http import (
    HTTP_CLIENT_KEYS,
    HTTPClientConfig,
    Secret,
    TLSConfig,
    parse_http_client,
    parse_tls_config,
)
from vigil.config.matchers import MatcherParseError, new_matcher, parse_matchers
from vigil.model.matchers import Matcher, MatchType

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_NO_SECRET = Secret("")
_5M = Duration(5 * 60_000)
_NO_TIMEOUT = Duration(0)
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
    smtp_smarthost: str = ""
    smtp_auth_username: str = ""
    smtp_auth_password: Secret = _NO_SECRET
    smtp_auth_password_file: str = ""
    smtp_auth_secret: Secret = _NO_SECRET
    smtp_auth_secret_file: str = ""
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    smtp_tls_config: TLSConfig = _NO_TLS
    smtp_force_implicit_tls: bool | None = None
    slack_api_url: Secret = _NO_SECRET
    slack_api_url_file: str = ""
    slack_app_token: Secret = _NO_SECRET
    slack_app_token_file: str = ""
    slack_app_url: str = "https://slack.com/api/chat.postMessage"
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: str = "https://api.opsgenie.com/"
    opsgenie_api_key: Secret = _NO_SECRET
    opsgenie_api_key_file: str = ""
    wechat_api_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    wechat_api_secret: Secret = _NO_SECRET
    wechat_api_secret_file: str = ""
    wechat_api_corp_id: str = ""
    victorops_api_url: str = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    victorops_api_key: Secret = _NO_SECRET
    victorops_api_key_file: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    telegram_bot_token: Secret = _NO_SECRET
    telegram_bot_token_file: str = ""
    webex_api_url: str = "https://webexapis.com/v1/messages"
    rocketchat_api_url: str = "https://open.rocket.chat/"
    rocketchat_token: Secret = _NO_SECRET
    rocketchat_token_file: str = ""
    rocketchat_token_id: Secret = _NO_SECRET
    rocketchat_token_id_file: str = ""
    mattermost_webhook_url: Secret = _NO_SECRET
    mattermost_webhook_url_file: str = ""
    jira_api_url: str = ""


Setting = str | bool | int | float | Duration | HTTPClientConfig | TLSConfig | tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Integration:
    """One `<kind>_configs` entry (kind "slack", "email", …) with global defaults applied.

    `settings` holds every key the user could set, by its YAML name (secrets as `Secret`,
    durations as `Duration`, maps and lists as tuples); absent keys hold Alertmanager's default.
    """

    kind: str
    line: int
    send_resolved: bool
    settings: tuple[tuple[str, Setting], ...]

    def get(self, key: str) -> Setting | None:
        return next((value for name, value in self.settings if name == key), None)

    def text(self, key: str) -> str:
        value = self.get(key)
        return value if isinstance(value, str) else ""

    @property
    def http_config(self) -> HTTPClientConfig:
        value = self.get("http_config")
        return value if isinstance(value, HTTPClientConfig) else HTTPClientConfig()


@dataclass(frozen=True, slots=True)
class SlackField:
    title: str
    value: str
    short: bool | None = None


@dataclass(frozen=True, slots=True)
class SlackConfirmationField:
    text: str
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""


@dataclass(frozen=True, slots=True)
class SlackAction:
    type: str
    text: str
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirmationField | None = None


_SLACK_DEFAULT = '{{{{ template "slack.default.{}" . }}}}'


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """`slack_configs` entry with Alertmanager's defaults (templates from default.tmpl) and
    `api_url(_file)`, `app_token(_file)`, `http_config` inherited from `global:`."""

    kind: ClassVar[str] = "slack"
    line: int = 0
    send_resolved: bool = False
    http_config: HTTPClientConfig = _NO_HTTP
    api_url: Secret = _NO_SECRET
    api_url_file: str = ""
    app_token: Secret = _NO_SECRET
    app_token_file: str = ""
    app_url: str = "https://slack.com/api/chat.postMessage"
    channel: str = ""
    username: str = _SLACK_DEFAULT.format("username")
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = _SLACK_DEFAULT.format("title")
    title_link: str = _SLACK_DEFAULT.format("titlelink")
    pretext: str = _SLACK_DEFAULT.format("pretext")
    text: str = _SLACK_DEFAULT.format("text")
    message_text: str = ""
    fields: tuple[SlackField, ...] = ()
    short_fields: bool = False
    footer: str = _SLACK_DEFAULT.format("footer")
    fallback: str = _SLACK_DEFAULT.format("fallback")
    callback_id: str = _SLACK_DEFAULT.format("callbackid")
    icon_emoji: str = _SLACK_DEFAULT.format("iconemoji")
    icon_url: str = _SLACK_DEFAULT.format("iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: tuple[str, ...] = ()
    actions: tuple[SlackAction, ...] = ()
    update_message: bool = False
    timeout: Duration = _NO_TIMEOUT


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """`webhook_configs` entry; `max_alerts` 0 means all; `http_config` from `global:`."""

    kind: ClassVar[str] = "webhook"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = _NO_HTTP
    url: Secret = _NO_SECRET
    url_file: str = ""
    max_alerts: int = 0
    timeout: Duration = _NO_TIMEOUT


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """`email_configs` entry with smarthost, from, hello, auth and TLS settings from `global:`
    (`smtp_*`). `headers` keep Alertmanager's canonical names (`Subject`, `X-Foo`); Subject, To
    and From get their defaults when the notifier is built, as Alertmanager does."""

    kind: ClassVar[str] = "email"
    line: int = 0
    send_resolved: bool = False
    to: str = ""
    from_: str = ""
    hello: str = "localhost"
    smarthost: str = ""
    auth_username: str = ""
    auth_password: Secret = _NO_SECRET
    auth_password_file: str = ""
    auth_secret: Secret = _NO_SECRET
    auth_secret_file: str = ""
    auth_identity: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    html: str = '{{ template "email.default.html" . }}'
    text: str = ""
    require_tls: bool = True
    force_implicit_tls: bool | None = None
    tls_config: TLSConfig = _NO_TLS


IntegrationConfig = SlackConfig | WebhookConfig | EmailConfig | Integration


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    line: int
    integrations: tuple[IntegrationConfig, ...] = ()


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

    def receiver(self, name: str) -> Receiver | None:
        return next((r for r in self.receivers if r.name == name), None)


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


def load_config(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(path, 0, "", err.strerror or str(err)) from None
    return parse_config(text, path)


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


def parse_config(text: str, file: str = "alertmanager.yml") -> Config:
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
    raw_receivers = [_receiver(node, base) for node in receiver_nodes]
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
        resolved = tuple(_typed(_with_globals(i, n, global_config)) for i, n in integrations)
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
    )


# --------------------------------------------------------------------------- global


def _url_value(node: Node, secret: bool = False) -> str:
    """Alertmanager's URL type: http or https with a host (`<secret>` stands for a hidden one)."""
    text = node.string()
    if secret and text == "<secret>":
        return text
    try:
        parts = urlsplit(text)
    except ValueError as err:
        raise node.error(f'parse "{text}": {err}') from None
    if parts.scheme not in ("http", "https"):
        raise node.error(f'unsupported scheme "{parts.scheme}" for URL')
    if not parts.netloc:
        raise node.error("host is missing in URL")
    return text


def _host_port(node: Node) -> str:
    text = node.string()
    if not text:
        return ""
    host, sep, port = text.rpartition(":")
    if not sep or (":" in host and not (host.startswith("[") and host.endswith("]"))):
        problem = "missing port in address" if not sep else "too many colons in address"
        raise node.error(f"address {text}: {problem}")
    if not port:
        raise node.error(f'address "{text}": port cannot be empty')
    return text


_STR, _SECRET, _URL, _SECRET_URL, _BOOL, _HOSTPORT = (
    "str",
    "secret",
    "url",
    "secret_url",
    "bool",
    "hostport",
)
_GLOBAL_KINDS = {
    "smtp_from": _STR,
    "smtp_hello": _STR,
    "smtp_smarthost": _HOSTPORT,
    "smtp_auth_username": _STR,
    "smtp_auth_password": _SECRET,
    "smtp_auth_password_file": _STR,
    "smtp_auth_secret": _SECRET,
    "smtp_auth_secret_file": _STR,
    "smtp_auth_identity": _STR,
    "smtp_require_tls": _BOOL,
    "smtp_force_implicit_tls": _BOOL,
    "slack_api_url": _SECRET_URL,
    "slack_api_url_file": _STR,
    "slack_app_token": _SECRET,
    "slack_app_token_file": _STR,
    "slack_app_url": _URL,
    "pagerduty_url": _URL,
    "opsgenie_api_url": _URL,
    "opsgenie_api_key": _SECRET,
    "opsgenie_api_key_file": _STR,
    "wechat_api_url": _URL,
    "wechat_api_secret": _SECRET,
    "wechat_api_secret_file": _STR,
    "wechat_api_corp_id": _STR,
    "victorops_api_url": _URL,
    "victorops_api_key": _SECRET,
    "victorops_api_key_file": _STR,
    "telegram_api_url": _URL,
    "telegram_bot_token": _SECRET,
    "telegram_bot_token_file": _STR,
    "webex_api_url": _URL,
    "rocketchat_api_url": _URL,
    "rocketchat_token": _SECRET,
    "rocketchat_token_file": _STR,
    "rocketchat_token_id": _SECRET,
    "rocketchat_token_id_file": _STR,
    "mattermost_webhook_url": _SECRET_URL,
    "mattermost_webhook_url_file": _STR,
    "jira_api_url": _URL,
}


def _scalar(node: Node, kind: str) -> Setting:
    if kind == _BOOL:
        return node.boolean()
    if kind == _SECRET:
        return Secret(node.string())
    if kind == _URL:
        return _url_value(node)
    if kind == _SECRET_URL:
        return Secret(_url_value(node, secret=True))
    if kind == _HOSTPORT:
        return _host_port(node)
    return node.string()


def _global(node: Node, base: str) -> GlobalConfig:
    fields = node.mapping(
        ("resolve_timeout", "http_config", "smtp_tls_config", *_GLOBAL_KINDS), "global"
    )
    values: dict[str, object] = {}
    for key, kind in _GLOBAL_KINDS.items():
        value = fields.get(key)
        if value is not None:
            values[key] = _scalar(value, kind)
    http = fields.get("http_config")
    if http is not None:
        values["http_config"] = parse_http_client(
            http.mapping(HTTP_CLIENT_KEYS, "http_config"), base
        )
    values["smtp_tls_config"] = parse_tls_config(fields.get("smtp_tls_config"), base)
    values["resolve_timeout"] = fields.duration("resolve_timeout", _5M)
    return GlobalConfig(**values)  # type: ignore[arg-type]


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

_ANY = "any"
_FILE = "file"
_INT = "int"
_FLOAT = "float"
_DURATION = "duration"
_STRINGS = "strings"
_MAP = "map"
_HTTP = "http_config"
_TLS = "tls_config"

# key -> kind for each integration; `send_resolved` and (except email) `http_config` are common.
_SPECS: dict[str, dict[str, str]] = {
    "webhook": {"url": _SECRET_URL, "url_file": _FILE, "max_alerts": _INT, "timeout": _DURATION},
    "email": {
        "to": _STR,
        "from": _STR,
        "hello": _STR,
        "smarthost": _HOSTPORT,
        "auth_username": _STR,
        "auth_password": _SECRET,
        "auth_password_file": _FILE,
        "auth_secret": _SECRET,
        "auth_secret_file": _FILE,
        "auth_identity": _STR,
        "headers": _MAP,
        "html": _STR,
        "text": _STR,
        "require_tls": _BOOL,
        "force_implicit_tls": _BOOL,
        "tls_config": _TLS,
    },
    "pagerduty": {
        "service_key": _SECRET,
        "service_key_file": _FILE,
        "routing_key": _SECRET,
        "routing_key_file": _FILE,
        "url": _URL,
        "client": _STR,
        "client_url": _STR,
        "description": _STR,
        "details": _MAP,
        "images": _ANY,
        "links": _ANY,
        "source": _STR,
        "severity": _STR,
        "class": _STR,
        "component": _STR,
        "group": _STR,
        "timeout": _DURATION,
    },
    "slack": {
        "api_url": _SECRET_URL,
        "api_url_file": _FILE,
        "app_token": _SECRET,
        "app_token_file": _FILE,
        "app_url": _URL,
        "channel": _STR,
        "username": _STR,
        "color": _STR,
        "title": _STR,
        "title_link": _STR,
        "pretext": _STR,
        "text": _STR,
        "message_text": _STR,
        "fields": _ANY,
        "short_fields": _BOOL,
        "footer": _STR,
        "fallback": _STR,
        "callback_id": _STR,
        "icon_emoji": _STR,
        "icon_url": _STR,
        "image_url": _STR,
        "thumb_url": _STR,
        "link_names": _BOOL,
        "mrkdwn_in": _STRINGS,
        "actions": _ANY,
        "update_message": _BOOL,
        "timeout": _DURATION,
    },
    "opsgenie": {
        "api_key": _SECRET,
        "api_key_file": _FILE,
        "api_url": _URL,
        "message": _STR,
        "description": _STR,
        "source": _STR,
        "details": _MAP,
        "entity": _STR,
        "responders": _ANY,
        "actions": _STR,
        "tags": _STR,
        "note": _STR,
        "priority": _STR,
        "update_alerts": _BOOL,
    },
    "wechat": {
        "api_secret": _SECRET,
        "api_secret_file": _FILE,
        "corp_id": _STR,
        "message": _STR,
        "api_url": _URL,
        "to_user": _STR,
        "to_party": _STR,
        "to_tag": _STR,
        "agent_id": _STR,
        "message_type": _STR,
    },
    "victorops": {
        "api_key": _SECRET,
        "api_key_file": _FILE,
        "api_url": _URL,
        "routing_key": _STR,
        "message_type": _STR,
        "state_message": _STR,
        "entity_display_name": _STR,
        "monitoring_tool": _STR,
        "custom_fields": _MAP,
    },
    "pushover": {
        "user_key": _SECRET,
        "user_key_file": _FILE,
        "token": _SECRET,
        "token_file": _FILE,
        "title": _STR,
        "message": _STR,
        "url": _STR,
        "url_title": _STR,
        "device": _STR,
        "sound": _STR,
        "priority": _STR,
        "retry": _DURATION,
        "expire": _DURATION,
        "ttl": _DURATION,
        "html": _BOOL,
        "monospace": _BOOL,
    },
    "sns": {
        "api_url": _STR,
        "sigv4": _ANY,
        "topic_arn": _STR,
        "phone_number": _STR,
        "target_arn": _STR,
        "subject": _STR,
        "message": _STR,
        "attributes": _MAP,
    },
    "telegram": {
        "api_url": _URL,
        "bot_token": _SECRET,
        "bot_token_file": _FILE,
        "chat_id": _INT,
        "message_thread_id": _INT,
        "message": _STR,
        "disable_notifications": _BOOL,
        "parse_mode": _STR,
    },
    "discord": {
        "webhook_url": _SECRET_URL,
        "webhook_url_file": _FILE,
        "title": _STR,
        "message": _STR,
        "content": _STR,
        "username": _STR,
        "avatar_url": _STR,
    },
    "webex": {"api_url": _URL, "message": _STR, "room_id": _STR},
    "msteams": {
        "webhook_url": _SECRET_URL,
        "webhook_url_file": _FILE,
        "title": _STR,
        "summary": _STR,
        "text": _STR,
    },
    "msteamsv2": {
        "webhook_url": _SECRET_URL,
        "webhook_url_file": _FILE,
        "title": _STR,
        "text": _STR,
    },
    "rocketchat": {
        "api_url": _URL,
        "channel": _STR,
        "token": _SECRET,
        "token_file": _FILE,
        "token_id": _SECRET,
        "token_id_file": _FILE,
        "color": _STR,
        "emoji": _STR,
        "icon_url": _STR,
        "text": _STR,
        "title": _STR,
        "title_link": _STR,
        "fields": _ANY,
        "short_fields": _BOOL,
        "image_url": _STR,
        "thumb_url": _STR,
        "link_names": _BOOL,
        "actions": _ANY,
    },
    "mattermost": {
        "webhook_url": _SECRET_URL,
        "webhook_url_file": _FILE,
        "channel": _STR,
        "username": _STR,
        "text": _STR,
        "icon_url": _STR,
        "icon_emoji": _STR,
        "attachments": _ANY,
        "props": _ANY,
        "priority": _ANY,
    },
    "jira": {
        "api_url": _URL,
        "project": _STR,
        "summary": _STR,
        "description": _STR,
        "labels": _STRINGS,
        "priority": _STR,
        "issue_type": _STR,
        "reopen_transition": _STR,
        "resolve_transition": _STR,
        "wont_fix_resolution": _STR,
        "reopen_duration": _DURATION,
        "fields": _ANY,
    },
}
_SEND_RESOLVED_DEFAULT = {"email": False, "slack": False, "wechat": False, "rocketchat": False}


def _receiver(node: Node, base: str) -> tuple[str, list[tuple[Integration, Node]]]:
    keys = ("name", *(f"{kind}_configs" for kind in _SPECS))
    fields = node.mapping(keys, "receivers")
    name = fields.string("name")
    if not name:
        raise node.error("missing name in receiver")
    integrations: list[tuple[Integration, Node]] = []
    for kind in _SPECS:
        for item in fields.sequence(f"{kind}_configs"):
            integrations.append((_integration(kind, item, base), item))
    integrations.sort(key=lambda pair: pair[0].line)
    return name, integrations


def _any(node: Node) -> object:
    if node.raw.tag.endswith(":map"):
        return tuple((k.string(), _any(v)) for k, v in node.items())
    if node.raw.tag.endswith(":seq"):
        return tuple(_any(item) for item in node.sequence())
    return node.string()


def _integration(kind: str, node: Node, base: str) -> Integration:
    spec = _SPECS[kind]
    common = ("send_resolved",) if kind == "email" else ("send_resolved", "http_config")
    fields = node.mapping((*common, *spec), f"{kind}_configs")
    settings: dict[str, Setting] = {}
    for key, kind_of in spec.items():
        value = fields.get(key)
        if value is None:
            continue
        if kind_of == _INT:
            settings[key] = value.integer()
        elif kind_of == _DURATION:
            settings[key] = value.duration()
        elif kind_of == _STRINGS:
            settings[key] = value.strings()
        elif kind_of == _MAP:
            settings[key] = tuple((k.string(), v.string()) for k, v in value.items())
        elif kind_of == _TLS:
            settings[key] = parse_tls_config(value, base)
        elif kind_of == _ANY:
            settings[key] = (_any(value),)
        elif kind_of == _FILE:
            settings[key] = value.string()
        else:
            settings[key] = _scalar(value, kind_of)
    http = fields.get("http_config")
    if http is not None:
        settings["http_config"] = parse_http_client(
            http.mapping(HTTP_CLIENT_KEYS, "http_config"), base
        )
    integration = Integration(
        kind,
        node.line,
        fields.boolean("send_resolved", _SEND_RESOLVED_DEFAULT.get(kind, True)),
        tuple(settings.items()),
    )
    _validate(integration, fields, node)
    return integration


def _validate(integration: Integration, fields: Mapping, node: Node) -> None:
    """What Alertmanager's per-integration UnmarshalYAML rejects, before any global default."""
    kind, get = integration.kind, integration.get

    def exclusive(inline: str, path: str) -> None:
        if get(inline) and get(path):
            raise fields.key(path).error(f"at most one of {inline} & {path} must be configured")

    def one_of(inline: str, path: str) -> None:
        if not get(inline) and not get(path):
            raise node.error(f"one of {inline} or {path} must be configured")
        exclusive(inline, path)

    if kind == "webhook":
        one_of("url", "url_file")
    elif kind == "email":
        if not get("to"):
            raise node.error("missing to address in email config")
        seen: set[str] = set()
        for header, _ in _pairs(get("headers")):
            canonical = _canonical_header(header)
            if canonical in seen:
                raise fields.key("headers").error(f'duplicate header "{canonical}" in email config')
            seen.add(canonical)
    elif kind == "pagerduty":
        if not any(
            get(k) for k in ("routing_key", "service_key", "routing_key_file", "service_key_file")
        ):
            raise node.error("missing service or routing key in PagerDuty config")
        exclusive("routing_key", "routing_key_file")
        exclusive("service_key", "service_key_file")
    elif kind == "slack":
        exclusive("api_url", "api_url_file")
        exclusive("app_token", "app_token_file")
        _slack_parts(fields)
    elif kind == "opsgenie":
        exclusive("api_key", "api_key_file")
        _opsgenie_responders(fields)
    elif kind == "wechat":
        exclusive("api_secret", "api_secret_file")
        message_type = integration.text("message_type") or "text"
        if message_type not in ("text", "markdown"):
            raise fields.key("message_type").error(
                f'weChat message type "{message_type}" does not match valid options ^(text|markdown)$'
            )
    elif kind == "victorops":
        if not get("routing_key"):
            raise node.error("missing Routing key in VictorOps config")
        exclusive("api_key", "api_key_file")
        reserved = (
            "routing_key",
            "message_type",
            "state_message",
            "entity_display_name",
            "monitoring_tool",
            "entity_id",
            "entity_state",
        )
        for key, _ in _pairs(get("custom_fields")):
            if key in reserved:
                raise fields.key("custom_fields").error(
                    f"victorOps config contains custom field {key} which cannot be used as it"
                    " conflicts with the fixed/static fields"
                )
    elif kind == "pushover":
        one_of("user_key", "user_key_file")
        one_of("token", "token_file")
    elif kind == "sns":
        arns = [bool(get(k)) for k in ("target_arn", "topic_arn", "phone_number")]
        if sum(arns) != 1:
            raise node.error(
                "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
            )
    elif kind == "telegram":
        exclusive("bot_token", "bot_token_file")
        if not get("chat_id"):
            raise node.error("missing chat_id on telegram_config")
        parse_mode = integration.text("parse_mode")
        if parse_mode not in ("", "Markdown", "MarkdownV2", "HTML"):
            raise fields.key("parse_mode").error(
                "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string"
            )
    elif kind in ("discord", "msteams", "msteamsv2"):
        one_of("webhook_url", "webhook_url_file")
    elif kind == "webex":
        if not get("room_id"):
            raise node.error("missing room_id on webex_config")
        if integration.http_config.authorization is None:
            raise node.error("missing webex_configs.http_config.authorization")
    elif kind == "rocketchat":
        exclusive("token", "token_file")
        exclusive("token_id", "token_id_file")
    elif kind == "mattermost":
        exclusive("webhook_url", "webhook_url_file")
    elif kind == "jira":
        if not get("project"):
            raise node.error("missing project in jira_config")
        if not get("issue_type"):
            raise node.error("missing issue_type in jira_config")


def _pairs(value: Setting | None) -> Iterator[tuple[str, str]]:
    if isinstance(value, tuple):
        for item in value:
            if isinstance(item, tuple) and len(item) == 2:
                yield str(item[0]), str(item[1])


def _slack_parts(fields: Mapping) -> None:
    for item in fields.sequence("fields"):
        part = item.mapping(("title", "value", "short"), "slack fields")
        for key in ("title", "value"):
            if not part.string(key):
                raise item.error(f"missing {key} in Slack field configuration")
    for item in fields.sequence("actions"):
        action = item.mapping(
            ("type", "text", "url", "style", "name", "value", "confirm"), "actions"
        )
        for key in ("type", "text"):
            if not action.string(key):
                raise item.error(f"missing {key} in Slack action configuration")
        if not action.string("url") and not action.string("name"):
            raise item.error("missing name or url in Slack action configuration")
        confirm = action.get("confirm")
        if confirm is not None:
            confirm_fields = confirm.mapping(
                ("text", "title", "ok_text", "dismiss_text"), "confirm"
            )
            if not confirm_fields.string("text"):
                raise confirm.error("missing text in Slack confirmation configuration")


def _opsgenie_responders(fields: Mapping) -> None:
    valid = ("team", "teams", "user", "escalation", "schedule")
    for item in fields.sequence("responders"):
        responder = item.mapping(("id", "name", "username", "type"), "responders")
        if not any(responder.string(k) for k in ("id", "name", "username")):
            raise item.error(
                "opsGenieConfig responder has to have at least one of id, username or name specified"
            )
        rtype = responder.string("type")
        if "{{" not in rtype and rtype.lower() not in valid:
            raise responder.key("type").error(
                f'opsGenieConfig responder type "{rtype}" does not match valid options'
                " ^(team|teams|user|escalation|schedule)$"
            )


def _with_globals(integration: Integration, node: Node, glob: GlobalConfig) -> Integration:
    """Fill in what the integration inherits from `global:`; fail as Alertmanager does when a
    required value is set neither here nor there."""
    values: dict[str, Setting] = dict(integration.settings)
    kind = integration.kind

    def inherit(key: str, default: Setting) -> Setting:
        if not values.get(key) and default:
            values[key] = default
        return values.get(key, "")

    def inherit_pair(inline: str, path: str, glob_inline: Setting, glob_path: str) -> bool:
        if not values.get(inline) and not values.get(path):
            values[inline], values[path] = glob_inline, glob_path
        return bool(values.get(inline) or values.get(path))

    if kind != "email":
        inherit("http_config", glob.http_config)
    if kind == "email":
        inherit("tls_config", glob.smtp_tls_config)
        if not inherit("smarthost", glob.smtp_smarthost):
            raise node.error("no global SMTP smarthost set")
        if not inherit("from", glob.smtp_from):
            raise node.error("no global SMTP from set")
        inherit("hello", glob.smtp_hello)
        inherit("auth_username", glob.smtp_auth_username)
        inherit_pair(
            "auth_password",
            "auth_password_file",
            glob.smtp_auth_password,
            glob.smtp_auth_password_file,
        )
        inherit("auth_secret", glob.smtp_auth_secret)
        inherit("auth_secret_file", glob.smtp_auth_secret_file)
        inherit("auth_identity", glob.smtp_auth_identity)
        values.setdefault("require_tls", glob.smtp_require_tls)
        if glob.smtp_force_implicit_tls is not None:
            values.setdefault("force_implicit_tls", glob.smtp_force_implicit_tls)
    elif kind == "slack":
        _slack_globals(values, node, glob)
    elif kind == "pagerduty":
        inherit("url", glob.pagerduty_url)
    elif kind == "opsgenie":
        inherit("api_url", glob.opsgenie_api_url)
        inherit("api_key", glob.opsgenie_api_key)
        inherit("api_key_file", glob.opsgenie_api_key_file)
        if not values.get("api_key") and not values.get("api_key_file"):
            raise node.error("no global OpsGenie API Key set either inline or in a file")
    elif kind == "wechat":
        inherit("api_url", glob.wechat_api_url)
        if not inherit_pair(
            "api_secret", "api_secret_file", glob.wechat_api_secret, glob.wechat_api_secret_file
        ):
            raise node.error("no global Wechat Api Secret set either inline or in a file")
        if not inherit("corp_id", glob.wechat_api_corp_id):
            raise node.error("no global Wechat CorpID set")
    elif kind == "victorops":
        inherit("api_url", glob.victorops_api_url)
        inherit("api_key", glob.victorops_api_key)
        inherit("api_key_file", glob.victorops_api_key_file)
        if not values.get("api_key") and not values.get("api_key_file"):
            raise node.error("no global VictorOps API Key set")
    elif kind == "telegram":
        inherit("api_url", glob.telegram_api_url)
        if not inherit_pair(
            "bot_token", "bot_token_file", glob.telegram_bot_token, glob.telegram_bot_token_file
        ):
            raise node.error("missing bot_token or bot_token_file on telegram_config")
    elif kind == "webex":
        inherit("api_url", glob.webex_api_url)
    elif kind == "jira":
        if not inherit("api_url", glob.jira_api_url):
            raise node.error("no global Jira Cloud URL set")
    elif kind == "rocketchat":
        inherit("api_url", glob.rocketchat_api_url)
        inherit("token_id", glob.rocketchat_token_id)
        inherit("token_id_file", glob.rocketchat_token_id_file)
        if not values.get("token_id") and not values.get("token_id_file"):
            raise node.error("no global Rocketchat TokenID set either inline or in a file")
        inherit("token", glob.rocketchat_token)
        inherit("token_file", glob.rocketchat_token_file)
        if not values.get("token") and not values.get("token_file"):
            raise node.error("no global Rocketchat Token set either inline or in a file")
    elif kind == "mattermost" and not inherit_pair(
        "webhook_url",
        "webhook_url_file",
        glob.mattermost_webhook_url,
        glob.mattermost_webhook_url_file,
    ):
        raise node.error("missing webhook_url or webhook_url_file on mattermost_config")
    return replace(integration, settings=tuple(values.items()))


def _slack_globals(values: dict[str, Setting], node: Node, glob: GlobalConfig) -> None:
    if not values.get("app_url"):
        values["app_url"] = glob.slack_app_url
    http = values.get("http_config")
    local_auth = isinstance(http, HTTPClientConfig) and http.authorization is not None
    if (
        not values.get("app_token")
        and not values.get("app_token_file")
        and not local_auth
        and not values.get("api_url")
    ):
        values["app_token"], values["app_token_file"] = (
            glob.slack_app_token,
            glob.slack_app_token_file,
        )
    if not values.get("api_url") and not values.get("api_url_file"):
        values["api_url"], values["api_url_file"] = glob.slack_api_url, glob.slack_api_url_file
    has_token = bool(values.get("app_token") or values.get("app_token_file"))
    if not values.get("api_url") and not values.get("api_url_file") and not has_token:
        raise node.error("no Slack API URL nor App token set either inline or in a file")
    if has_token and local_auth:
        raise node.error("http authorization can't be set when using Slack App tokens")
    if values.get("update_message") and not has_token:
        raise node.error(
            "update_message needs a Slack app token (app_token or app_token_file):"
            " webhook URLs cannot update messages"
        )
    if not isinstance(http, HTTPClientConfig):
        values["http_config"] = glob.http_config


# --------------------------------------------------------------------------- typed integrations


def _typed(integration: Integration) -> IntegrationConfig:
    """The typed form of the kinds vigil sends to (Slack, webhook, email); others stay generic."""
    settings = dict(integration.settings)
    common = {"line": integration.line, "send_resolved": integration.send_resolved}
    if integration.kind == "webhook":
        return WebhookConfig(**common, **settings)  # type: ignore[arg-type]
    if integration.kind == "email":
        settings["from_"] = settings.pop("from", "")
        settings["headers"] = tuple(
            (_canonical_header(k), v) for k, v in _pairs(settings.get("headers"))
        )
        return EmailConfig(**common, **settings)  # type: ignore[arg-type]
    if integration.kind == "slack":
        settings["fields"] = tuple(_slack_field(v) for v in _items(settings.get("fields")))
        settings["actions"] = tuple(_slack_action(v) for v in _items(settings.get("actions")))
        return SlackConfig(**common, **settings)  # type: ignore[arg-type]
    return integration


def _canonical_header(name: str) -> str:
    """Go's strings.Title as Alertmanager applies it to email header names."""
    return re.sub(r"(?:^|(?<=[^A-Za-z0-9_]))([a-z])", lambda m: m.group(1).upper(), name)


def _items(value: Setting | None) -> tuple[dict[str, object], ...]:
    """A `_ANY` list of mappings (`((key, value), …)` tuples) as dicts."""
    if not isinstance(value, tuple) or not value or not isinstance(value[0], tuple):
        return ()
    return tuple(dict(item) for item in value[0] if isinstance(item, tuple))


def _slack_field(raw: dict[str, object]) -> SlackField:
    short = raw.get("short")
    return SlackField(
        title=str(raw.get("title", "")),
        value=str(raw.get("value", "")),
        short=None if short is None else str(short).lower() == "true",
    )


def _slack_action(raw: dict[str, object]) -> SlackAction:
    confirm = raw.get("confirm")
    confirm_fields = dict(confirm) if isinstance(confirm, tuple) else None
    return SlackAction(
        **{k: str(raw.get(k, "")) for k in ("type", "text", "url", "style", "name", "value")},
        confirm=None
        if confirm_fields is None
        else SlackConfirmationField(
            **{
                k: str(confirm_fields.get(k, ""))
                for k in ("text", "title", "ok_text", "dismiss_text")
            }
        ),
    )
