"""What span metrics keep out or rewrite before counting, so one noisy app cannot flood
the TSDB or skew its figures:

- span names: a server span with `http.route` is named `{method} {route}`; one without a
  route whose name looks like a raw URL (`GET /users/123`, not a template such as
  `GET /users/{id}`) is named `{method}` (OpenTelemetry's HTTP semantic conventions); a service keeps at most `max_span_names` distinct names, the
  rest count under `__cardinality_overflow__` (Tempo's overflow value);
- health checks: server spans whose user agent starts with one of `health_user_agents` or
  whose path (`url.path`, `http.target` without its query, `http.route`) is one of
  `health_paths` are not counted, nor the spans of their trace in the same batch (an SDK's
  batch exporter sends a request's spans together); they are counted apart, in
  `vigil_spanmetrics_spans_excluded_total{reason="health_check"}`;
- sampling: a span stands for `multiplier` spans. Read, first found wins: the W3C
  tracestate's OpenTelemetry threshold `ot=th:<hex>` (probability 1 - th/2^56), then the
  attributes (span, then resource) `sampling.probability` (p → 1/p), `SampleRate`
  (Honeycomb's "1 in N" → N) and Tempo's `X-SampleRatio` (r → 1/r). Values outside
  (0, 1] for probabilities or below 1 for rates are ignored.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vigil.model.healthcheck import DEFAULT_HEALTH_PATHS, DEFAULT_HEALTH_USER_AGENTS
from vigil.traces._api import KIND_SERVER, AttrValue, Spans

OVERFLOW = "__cardinality_overflow__"
DEFAULT_MAX_SPAN_NAMES = 1000
DEFAULT_MAX_SERVICES = 1000

_ROUTE_KEYS = ("http.route",)
_METHOD_KEYS = ("http.request.method", "http.method")
_PATH_KEYS = ("url.path", "http.target", "http.route")
_AGENT_KEYS = ("user_agent.original", "http.user_agent")
_URL_LIKE = re.compile(r"^[A-Z]+ /|^/")
_TEMPLATE = re.compile(r"[{<]|/:")  # /users/{id}, /users/<int:id>, /users/:id
_THRESHOLD = re.compile(r"(?:^|;)th:([0-9a-f]{1,14})(?:;|$)")
_MAX_THRESHOLD = float(1 << 56)


@dataclass(frozen=True, slots=True)
class SpanGuards:
    """The guards' settings (`--traces.spanmetrics.*` flags)."""

    health_user_agents: tuple[str, ...] = DEFAULT_HEALTH_USER_AGENTS
    health_paths: tuple[str, ...] = DEFAULT_HEALTH_PATHS
    max_span_names: int = DEFAULT_MAX_SPAN_NAMES
    max_services: int = DEFAULT_MAX_SERVICES


@dataclass(slots=True)
class NameCap:
    """Distinct span names admitted per service (and services admitted), bounded: once a
    service has `max_span_names`, new names become OVERFLOW; past `max_services`, new
    services too. Memory stays at most max_services × max_span_names names."""

    guards: SpanGuards
    names: dict[str, set[str]] = field(default_factory=dict)
    overflowed: int = 0

    def admit(self, service: str, names: list[str]) -> tuple[str, npt.NDArray[np.bool_]]:
        """The service's label (OVERFLOW past max_services) and which of `names` keep
        their own label: those known, then new ones while the service has room."""
        known = self.names.get(service)
        if known is None:
            if len(self.names) >= self.guards.max_services:
                return OVERFLOW, np.zeros(len(names), dtype=bool)
            known = self.names[service] = set()
        kept = np.fromiter(map(known.__contains__, names), dtype=bool, count=len(names))
        room = self.guards.max_span_names - len(known)
        if room > 0 and not kept.all():
            for i in np.flatnonzero(~kept)[:room].tolist():
                if names[i] not in known:
                    known.add(names[i])
                kept[i] = True
                if len(known) >= self.guards.max_span_names:
                    break
        return service, kept


def _first(attributes: dict[str, AttrValue], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


@dataclass(slots=True)
class GuardedSpans:
    """One batch seen through the guards: per-span flags and values the span-metric,
    service-graph and slow-SQL processors share (each attribute map is read once)."""

    spans: Spans
    counted: npt.NDArray[np.bool_]  # not a health check
    health_checks: int
    multiplier: npt.NDArray[np.float64]
    name_codes: npt.NDArray[np.int64]  # the span name after the route rewrite
    strings: list[str]  # the batch's strings, then the rewritten names
    _dicts: list[dict[str, AttrValue] | None]

    @classmethod
    def of(cls, spans: Spans, guards: SpanGuards) -> GuardedSpans:
        n = len(spans)
        dicts: list[dict[str, AttrValue] | None] = [None] * n
        strings = list(spans.strings)
        codes: dict[str, int] = {}
        name_codes = spans.name.astype(np.int64)
        counted = np.ones(n, dtype=bool)
        agents, paths = guards.health_user_agents, frozenset(guards.health_paths)
        for i in np.flatnonzero(spans.kind == KIND_SERVER).tolist():
            attrs = dicts[i] = dict(spans.attributes[i])
            if _is_health_check(attrs, agents, paths):
                counted[i] = False
            name = strings[name_codes[i]]
            rewritten = _server_name(name, attrs)
            if rewritten != name:
                if not codes:
                    codes = {name: code for code, name in enumerate(strings)}
                code = codes.get(rewritten)
                if code is None:
                    code = codes[rewritten] = len(strings)
                    strings.append(rewritten)
                name_codes[i] = code
        if not counted.all():
            ids = np.frombuffer(spans.trace_ids, dtype="V16")
            counted &= ~np.isin(ids, ids[~counted])
        guarded = cls(
            spans=spans,
            counted=counted,
            health_checks=int(n - counted.sum()),
            multiplier=np.ones(n, dtype=np.float64),
            name_codes=name_codes,
            strings=strings,
            _dicts=dicts,
        )
        guarded.multiplier = guarded._multipliers()
        return guarded

    @property
    def names(self) -> list[str]:
        strings = self.strings
        return [strings[code] for code in self.name_codes.tolist()]

    def attributes(self, i: int) -> dict[str, AttrValue]:
        attrs = self._dicts[i]
        if attrs is None:
            attrs = self._dicts[i] = dict(self.spans.attributes[i])
        return attrs

    def _multipliers(self) -> npt.NDArray[np.float64]:
        spans = self.spans
        by_state = np.ones(len(spans.strings), dtype=np.float64)
        for code in np.unique(spans.trace_state).tolist():
            by_state[code] = _threshold_multiplier(spans.strings[code]) or 1.0
        out = by_state[spans.trace_state]
        unset = out == 1.0
        for i, attrs in enumerate(spans.attributes):
            if attrs and not _SAMPLING_KEYS.isdisjoint(map(_KEY, attrs)) and unset[i]:
                found = _attribute_multiplier(self.attributes(i))
                if found is not None:
                    out[i], unset[i] = found, False
        if unset.any() and spans.resources:
            by_resource = np.array(
                [_attribute_multiplier(dict(r.attributes)) or 1.0 for r in spans.resources]
            )
            out[unset] = by_resource[spans.resource[unset]]
        return out


def _is_health_check(
    attrs: dict[str, AttrValue], agents: tuple[str, ...], paths: frozenset[str]
) -> bool:
    agent = _first(attrs, _AGENT_KEYS)
    if agent is not None and agent.startswith(agents):
        return True
    for key in _PATH_KEYS:
        value = attrs.get(key)
        if isinstance(value, str) and value.split("?", 1)[0] in paths:
            return True
    return False


def _server_name(name: str, attrs: dict[str, AttrValue]) -> str:
    method = _first(attrs, _METHOD_KEYS)
    route = _first(attrs, _ROUTE_KEYS)
    if route is not None:
        return f"{method} {route}" if method else route
    if method is not None and _URL_LIKE.match(name) and not _TEMPLATE.search(name):
        return method
    return name


_KEY = operator.itemgetter(0)
_SAMPLING_KEYS = frozenset({"sampling.probability", "SampleRate", "X-SampleRatio"})


def _attribute_multiplier(attrs: dict[str, AttrValue]) -> float | None:
    probability = _number(attrs.get("sampling.probability"))
    if probability is not None and 0 < probability <= 1:
        return 1 / probability
    rate = _number(attrs.get("SampleRate"))
    if rate is not None and rate >= 1:
        return rate
    ratio = _number(attrs.get("X-SampleRatio"))
    if ratio is not None and 0 < ratio <= 1:
        return 1 / ratio
    return None


def _number(value: AttrValue | None) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _threshold_multiplier(trace_state: str) -> float | None:
    """1 / probability from the `ot` vendor entry's `th` (a rejection threshold: 14 hex
    digits at most, right-padded with zeros); None without one."""
    if "ot=" not in trace_state:
        return None
    for member in trace_state.split(","):
        key, _, value = member.strip().partition("=")
        if key != "ot":
            continue
        found = _THRESHOLD.search(value)
        if found is None:
            return None
        threshold = int(found.group(1).ljust(14, "0"), 16)
        probability = 1 - threshold / _MAX_THRESHOLD
        return 1 / probability if probability > 0 else None
    return None
