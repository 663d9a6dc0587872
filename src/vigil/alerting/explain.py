"""`vigil alertmanager explain`: what Alertmanager will do with one alert — the routes it
takes, its group, what could inhibit it, and when notifications go out. Users confuse
group_wait, group_interval and repeat_interval (alertmanager#676, #2166); this prints the
timeline those three produce instead of asking them to derive it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import httpx

from vigil.alerting.route import Route, build_tree, label_set_string, matchers_string
from vigil.config._yaml import ConfigError
from vigil.config.alertmanager import Config, InhibitRule, Kinds, load_config
from vigil.config.duration import Duration
from vigil.config.matchers import (
    MatcherParseError,
    api_matcher_op,
    new_matcher,
    parse_matchers,
)
from vigil.model.labels import Labels, json_quote
from vigil.model.matchers import Matcher, MatchType


@dataclass(frozen=True, slots=True)
class LiveState:
    """What a running Alertmanager says now: active silences (id, matchers) and firing alerts."""

    silences: tuple[tuple[str, tuple[Matcher, ...]], ...] = ()
    firing: tuple[Labels, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    at: str
    what: str


def timeline(
    route: Route, send_resolved: Sequence[tuple[str, bool]], resolve: Duration
) -> list[Step]:
    """The notifications an alert causes on `route`, t = when its group is created."""
    wait = route.options.group_wait.milliseconds
    interval = route.options.group_interval.milliseconds
    repeat = route.options.repeat_interval.milliseconds
    # Repeats are checked at flush ticks (every group_interval after the first) and need
    # strictly more than repeat_interval since the last send: the first tick after it.
    ticks = math.floor(repeat / interval) + 1 if interval else 1
    steps = [
        Step(
            f"t+{_ms(wait)}",
            "first notification, with every alert of the group that fired by then "
            f"(group_wait {_ms(wait)})",
        ),
        Step(
            f"every {_ms(interval)}",
            "after that, a notification when the group changed: an alert joined, "
            f"fired again or resolved (group_interval {_ms(interval)})",
        ),
        Step(
            f"t+{_ms(wait + ticks * interval)}",
            f"the same alerts again if nothing changed: the first group_interval tick more "
            f"than repeat_interval {_ms(repeat)} after the last notification, then every "
            f"{_ms(ticks * interval)}",
        ),
    ]
    sending = [name for name, resolved in send_resolved if resolved]
    silent = [name for name, resolved in send_resolved if not resolved]
    if sending:
        steps.append(
            Step(
                "resolved",
                f"a resolved notification to {', '.join(sending)} at the next tick after the "
                "alert resolves",
            )
        )
    if silent:
        steps.append(
            Step(
                "resolved",
                f"no resolved message from {', '.join(silent)} (send_resolved: false)",
            )
        )
    steps.append(
        Step(
            "timeout",
            "an alert whose sender stops without resolving it resolves "
            f"resolve_timeout {_ms(resolve.milliseconds)} after its last update "
            "(Prometheus resends firing alerts every minute and sets endsAt itself)",
        )
    )
    return steps


def inhibitions(config: Config, labels: Labels) -> list[tuple[InhibitRule, str]]:
    """The inhibit rules that could mute these labels, with the source alert they need."""
    found = []
    for rule in config.inhibit_rules:
        if not all(m.matches_labels(labels) for m in rule.target_matchers):
            continue
        same = ", ".join(f"{name}={json_quote(labels.get(name))}" for name in rule.equal)
        need = f"an alert matching {matchers_string(rule.source_matchers)} fires"
        found.append((rule, f"{need} with {same}" if rule.equal else need))
    return found


def explain(config: Config, labels: Labels, live: LiveState | None = None) -> str:
    tree = build_tree(config)
    lines = [f"alert {label_set_string(labels)}", ""]
    for route in tree.match(labels):
        lines += _route_lines(config, route, labels)
    rules = inhibitions(config, labels)
    if rules:
        lines.append("inhibited while:")
        for rule, need in rules:
            lines.append(f"  {need} (inhibit rule at line {rule.line})")
    else:
        lines.append("no inhibit rule can mute it")
    if live is not None:
        lines += _live_lines(config, labels, live)
    return "\n".join(lines) + "\n"


def _route_lines(config: Config, route: Route, labels: Labels) -> list[str]:
    options = route.options
    grouped = "..." if options.group_by_all else ", ".join(sorted(options.group_by)) or "nothing"
    receiver = config.receiver(route.receiver)
    integrations = receiver.integrations if receiver is not None else ()
    kinds = [(f"{i.kind}_configs[{n}]", i.send_resolved) for n, i in enumerate(integrations)]
    lines = [
        f"route {route.key or '{}'} (line {route.line}) -> receiver {route.receiver!r}"
        + ("" if integrations else " (no integrations: nothing is sent)"),
        f"  group key: {route.group_key(labels)}",
        f"  grouped by: {grouped}",
    ]
    if options.mute_time_intervals:
        lines.append(f"  muted during: {', '.join(options.mute_time_intervals)}")
    if options.active_time_intervals:
        lines.append(f"  active only during: {', '.join(options.active_time_intervals)}")
    lines.append(
        "  timeline (t = when the first alert of its group arrives; an alert that started "
        "more than group_wait ago is sent at once):"
    )
    for step in timeline(route, kinds, config.global_config.resolve_timeout):
        lines.append(f"    {step.at:<14} {step.what}")
    lines.append("")
    return lines


def _live_lines(config: Config, labels: Labels, live: LiveState) -> list[str]:
    lines = ["", "now:"]
    silencing = [sid for sid, ms in live.silences if all(m.matches_labels(labels) for m in ms)]
    lines.append(
        f"  silenced by {', '.join(silencing)}" if silencing else "  no active silence matches"
    )
    muting = []
    for rule in config.inhibit_rules:
        if not all(m.matches_labels(labels) for m in rule.target_matchers):
            continue
        for source in live.firing:
            if source == labels or not all(m.matches_labels(source) for m in rule.source_matchers):
                continue
            if all(source.get(n) == labels.get(n) for n in rule.equal):
                muting.append(label_set_string(source))
    lines.append(f"  inhibited by {'; '.join(muting)}" if muting else "  not inhibited")
    return lines


def _ms(ms: int) -> str:
    return str(Duration(ms))


def explain_command(
    config_file: str, kinds: Kinds, labels_text: str, url: str | None, out: TextIO, err: TextIO
) -> int:
    """`vigil alertmanager explain`; exit 1 with the reason for a bad file, labels or URL."""
    try:
        config = load_config(config_file, kinds)
        labels = _parse_labels(labels_text)
        live = fetch_live_state(url) if url else None
    except (ConfigError, MatcherParseError, ValueError) as error:
        print(f"vigil alertmanager explain: {error}", file=err)
        return 1
    except httpx.HTTPError as error:
        print(f"vigil alertmanager explain: asking {url} failed: {error}", file=err)
        return 1
    out.write(explain(config, labels, live))
    return 0


def _parse_labels(text: str) -> Labels:
    pairs: dict[str, str] = {}
    for matcher in parse_matchers(text):
        if matcher.type is not MatchType.EQUAL:
            raise ValueError(f"labels must be name=value pairs, not {matcher}")
        pairs[matcher.name] = matcher.value
    if not pairs:
        raise ValueError("--labels names no label")
    return Labels.from_dict(pairs)


def fetch_live_state(url: str) -> LiveState:
    """Active silences and firing, unsilenced alerts from an Alertmanager API v2."""
    base = url.rstrip("/")
    with httpx.Client(timeout=10) as client:
        silences = client.get(f"{base}/api/v2/silences").raise_for_status().json()
        alerts = client.get(f"{base}/api/v2/alerts").raise_for_status().json()
    active = []
    for silence in silences:
        if silence.get("status", {}).get("state") != "active":
            continue
        matchers = tuple(
            new_matcher(
                m["name"],
                api_matcher_op(bool(m.get("isRegex")), bool(m.get("isEqual", True))),
                m["value"],
            )
            for m in silence.get("matchers", [])
        )
        active.append((str(silence["id"]), matchers))
    firing = tuple(Labels.from_dict(a.get("labels", {})) for a in alerts)
    return LiveState(silences=tuple(active), firing=firing)
