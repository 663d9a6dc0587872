"""The routing tree: which receivers an alert goes to, with Alertmanager's semantics (depth-first,
first matching child wins unless it has `continue`, options inherited from the parent) and its
group keys (`{}/{service="db"}:{alertname="X"}`), so notification logs stay comparable."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from vigil.config.alertmanager import Config, RouteConfig
from vigil.config.duration import Duration
from vigil.model.labels import Labels, is_legacy_label_name, json_quote
from vigil.model.matchers import Matcher

DEFAULT_GROUP_WAIT = Duration(30_000)
DEFAULT_GROUP_INTERVAL = Duration(5 * 60_000)
DEFAULT_REPEAT_INTERVAL = Duration(4 * 3_600_000)


@dataclass(frozen=True, slots=True)
class RouteOptions:
    """What a route does with the alerts it takes; children inherit it unless they override."""

    receiver: str
    group_by: frozenset[str] = frozenset()
    group_by_all: bool = False
    group_wait: Duration = DEFAULT_GROUP_WAIT
    group_interval: Duration = DEFAULT_GROUP_INTERVAL
    repeat_interval: Duration = DEFAULT_REPEAT_INTERVAL
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """One node of the tree, with its options resolved and its position (`key`) known."""

    options: RouteOptions
    matchers: tuple[Matcher, ...]
    continue_matching: bool
    key: str
    line: int
    routes: tuple[Route, ...] = ()

    @classmethod
    def from_config(cls, config: RouteConfig, parent: Route | None = None) -> Route:
        """Build the tree; `config` is the root route when `parent` is None."""
        base = parent.options if parent is not None else RouteOptions(receiver="")
        group_by, group_by_all = base.group_by, base.group_by_all
        if config.group_by is not None:
            group_by, group_by_all = frozenset(config.group_by), False
        elif config.group_by_all:
            group_by_all = True
        options = RouteOptions(
            receiver=config.receiver or base.receiver,
            group_by=group_by,
            group_by_all=group_by_all,
            group_wait=config.group_wait if config.group_wait is not None else base.group_wait,
            group_interval=(
                config.group_interval if config.group_interval is not None else base.group_interval
            ),
            repeat_interval=(
                config.repeat_interval
                if config.repeat_interval is not None
                else base.repeat_interval
            ),
            mute_time_intervals=config.mute_time_intervals,
            active_time_intervals=config.active_time_intervals,
        )
        own = matchers_string(config.matchers)
        key = f"{parent.key}/{own}" if parent is not None else own
        node = cls(options, config.matchers, config.continue_matching, key, config.line)
        children = tuple(cls.from_config(child, node) for child in config.routes)
        object.__setattr__(node, "routes", children)
        return node

    @property
    def receiver(self) -> str:
        return self.options.receiver

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels.get(m.name, "")) for m in self.matchers)

    def match(self, labels: Labels | Mapping[str, str]) -> list[Route]:
        """The routes that take an alert with these labels, in order; [] when this one doesn't."""
        values = dict(labels)
        if not self.matches(values):
            return []
        taken: list[Route] = []
        for child in self.routes:
            found = child.match(values)
            taken.extend(found)
            if found and not child.continue_matching:
                break
        return taken or [self]

    def group_labels(self, labels: Labels | Mapping[str, str]) -> Labels:
        """The labels an alert is grouped by on this route (all of them for `group_by: [...]`)."""
        items = dict(labels)
        if self.options.group_by_all:
            return Labels.from_dict(items)
        return Labels.from_dict({k: v for k, v in items.items() if k in self.options.group_by})

    def group_key(self, labels: Labels | Mapping[str, str]) -> str:
        """Alertmanager's aggregation group key: `<route key>:<group labels>`."""
        return f"{self.key}:{label_set_string(self.group_labels(labels))}"

    def walk(self) -> Iterator[Route]:
        """This route and its descendants, depth-first in file order."""
        yield self
        for child in self.routes:
            yield from child.walk()


def build_tree(config: Config) -> Route:
    return Route.from_config(config.route)


def matchers_string(matchers: tuple[Matcher, ...]) -> str:
    """`{a="b",c=~"d"}`, as Alertmanager prints a route's matchers in its keys."""
    return "{" + ",".join(_matcher_string(m) for m in matchers) + "}"


def _matcher_string(matcher: Matcher) -> str:
    name = matcher.name if is_legacy_label_name(matcher.name) else json_quote(matcher.name)
    return f"{name}{matcher.type.value}{json_quote(matcher.value)}"


def label_set_string(labels: Labels) -> str:
    """Prometheus's LabelSet String(): `{a="b", c="d"}` sorted by name."""
    return "{" + ", ".join(f"{k}={json_quote(v)}" for k, v in labels) + "}"
