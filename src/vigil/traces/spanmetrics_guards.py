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

import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vigil.model.healthcheck import DEFAULT_HEALTH_PATHS, DEFAULT_HEALTH_USER_AGENTS
from vigil.model.sorted_set import sorted_set
from vigil.traces._api import KIND_SERVER, AttrValue, Spans
from vigil.traces.spanmetrics_attributes import AttributeColumns

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


@dataclass(slots=True)
class GuardedSpans:
    """One batch seen through the guards: per-span flags and values the span-metric,
    service-graph and slow-SQL processors share (attributes read as columns, once)."""

    spans: Spans
    columns: AttributeColumns
    counted: npt.NDArray[np.bool_]  # not a health check
    health_checks: int
    multiplier: npt.NDArray[np.float64]
    name_codes: npt.NDArray[np.int64]  # the span name after the route rewrite
    strings: list[str]  # the batch's strings, then the rewritten names
    _dicts: list[dict[str, AttrValue] | None]

    @classmethod
    def of(cls, spans: Spans, guards: SpanGuards) -> GuardedSpans:
        n = len(spans)
        columns = AttributeColumns(spans.attributes)
        strings = list(spans.strings)
        name_codes = spans.name.astype(np.int64)
        counted = np.ones(n, dtype=bool)
        server = np.flatnonzero(spans.kind == KIND_SERVER)
        if len(server):
            counted[server] = ~_health_checks(columns, server, guards)
            name_codes[server] = _server_names(columns, server, name_codes[server], strings)
        if not counted.all():
            ids = np.frombuffer(spans.trace_ids, dtype="V16")
            counted &= ~np.isin(ids, ids[~counted])
        guarded = cls(
            spans=spans,
            columns=columns,
            counted=counted,
            health_checks=int(n - counted.sum()),
            multiplier=np.ones(n, dtype=np.float64),
            name_codes=name_codes,
            strings=strings,
            _dicts=[None] * n,
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
        for code in sorted_set(spans.trace_state).tolist():
            by_state[code] = _threshold_multiplier(spans.strings[code]) or 1.0
        out = by_state[spans.trace_state]
        unset = out == 1.0
        for i in np.flatnonzero(self.columns.owning(_SAMPLING_KEYS) & unset).tolist():
            found = _attribute_multiplier(self.attributes(i))
            if found is not None:
                out[i], unset[i] = found, False
        if unset.any() and spans.resources:
            by_resource = np.array(
                [_attribute_multiplier(dict(r.attributes)) or 1.0 for r in spans.resources]
            )
            out[unset] = by_resource[spans.resource[unset]]
        return out


def _health_checks(
    columns: AttributeColumns, rows: npt.NDArray[np.intp], guards: SpanGuards
) -> npt.NDArray[np.bool_]:
    """Which spans of `rows` are health checks, by user agent or by path (each distinct
    value tested once)."""
    agents = guards.health_user_agents
    found = columns.text(_AGENT_KEYS)[rows].tolist()
    by_agent = {a: a is not None and a.startswith(agents) for a in set(found)}
    health = np.fromiter(map(by_agent.__getitem__, found), dtype=bool, count=len(rows))
    paths = frozenset(guards.health_paths)
    for key in _PATH_KEYS:
        found = columns.value(key)[rows].tolist()
        by_path = {v: isinstance(v, str) and v.split("?", 1)[0] in paths for v in set(found)}
        health |= np.fromiter(map(by_path.__getitem__, found), dtype=bool, count=len(rows))
    return health


def _server_names(
    columns: AttributeColumns,
    rows: npt.NDArray[np.intp],
    codes: npt.NDArray[np.int64],
    strings: list[str],
) -> npt.NDArray[np.int64]:
    """The name codes of the server spans `rows` after the route rewrite (new names added
    to `strings`); each distinct (name, method, route) rewritten once."""
    found = list(
        zip(
            codes.tolist(),
            columns.text(_METHOD_KEYS)[rows].tolist(),
            columns.text(_ROUTE_KEYS)[rows].tolist(),
            strict=True,
        )
    )
    index: dict[str, int] = {}
    rewritten: dict[tuple[int, str | None, str | None], int] = {}
    for key in dict.fromkeys(found):
        name = strings[key[0]]
        new = _server_name(name, key[1], key[2])
        if new == name:
            rewritten[key] = key[0]
            continue
        if not index:
            index = {name: code for code, name in enumerate(strings)}
        code = index.get(new)
        if code is None:
            code = index[new] = len(strings)
            strings.append(new)
        rewritten[key] = code
    return np.fromiter(map(rewritten.__getitem__, found), dtype=np.int64, count=len(found))


def _server_name(name: str, method: str | None, route: str | None) -> str:
    if route is not None:
        return f"{method} {route}" if method else route
    if method is not None and _URL_LIKE.match(name) and not _TEMPLATE.search(name):
        return method
    return name


_SAMPLING_KEYS = ("sampling.probability", "SampleRate", "X-SampleRatio")


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
