"""An OTLP `ExportMetricsServiceRequest` → float samples, translated as Prometheus 3 does.

- Gauges and cumulative sums become one series per data point; a monotonic sum is a counter
  (`_total`), a non-monotonic one a gauge.
- Explicit-bucket histograms become classic histograms: `_bucket{le}` (cumulative counts, `+Inf`
  = count), `_sum` (when sent) and `_count`; summaries become `{quantile}`, `_sum`, `_count`.
- Attributes become labels; `service.name` (prefixed `namespace/` by `service.namespace`) becomes
  `job`, `service.instance.id` becomes `instance`; `otlp.promote_resource_attributes` adds
  resource attributes; the other resource attributes go to one `target_info` series per
  resource (the identifying ones too with `keep_identifying_resource_attributes`).
- A data point flagged "no recorded value" is a staleness marker.
What is not stored is counted by reason, as Prometheus 3 drops it with a warning: sums and
histograms of delta temporality (Prometheus converts them only behind a feature flag),
exponential histograms (Prometheus stores them as native histograms, which vigil does not
store yet), metrics without a translatable name. Exemplars are not stored (no exemplar storage).
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from vigil.config.prometheus import OTLPConfig
from vigil.model import Labels
from vigil.model.gofloat import format_float
from vigil.remote.otlp.names import MetricKind, UntranslatableName, label_name, metric_name
from vigil.remote.receiver import DecodedWrite
from vigil.tsdb import STALE_NAN

if TYPE_CHECKING:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, ResourceMetrics, ScopeMetrics

CUMULATIVE = 2  # AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
NO_RECORDED_VALUE = 1  # DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
TARGET_INFO_MAX_SAMPLES = 10_000  # a resource whose points span years fills no memory

DELTA = "delta_temporality"
EXPONENTIAL = "exponential_histogram"
BAD_NAME = "untranslatable_name"
NO_DATA = "unsupported_type"

_IDENTIFYING = ("service.namespace", "service.name", "service.instance.id")
_BY_KEY = itemgetter(0)
_EXPONENT = re.compile(r"e([-+])0*(\d)")


@dataclass(frozen=True, slots=True)
class Translation:
    """What a request stores, and what it held that is not stored: data points by reason,
    and one line per metric saying why."""

    write: DecodedWrite
    dropped: Mapping[str, int]
    problems: Sequence[str]

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())


@dataclass(frozen=True, slots=True)
class _Context:
    """Labels every series of one resource and scope carries besides its own attributes."""

    promoted: tuple[tuple[str, str], ...]  # only where no attribute has the name
    forced: tuple[tuple[str, str], ...]  # scope labels, then job/instance: they win


@dataclass(slots=True)
class _Samples:
    """Samples gathered in request order, grouped by series once at the end (numpy). A data
    point's label sets come as one tuple (cached across points and requests): it is looked up
    by identity, and label sets equal across tuples are merged once at the end."""

    starts: dict[int, int] = field(default_factory=dict)
    groups: list[tuple[Labels, ...]] = field(default_factory=list)
    labels: list[Labels] = field(default_factory=list)
    series: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def extend(self, labels: tuple[Labels, ...], t_ms: int, values: Iterable[float]) -> None:
        start = self.starts.get(id(labels))
        if start is None:
            start = self.starts[id(labels)] = len(self.labels)
            self.groups.append(labels)  # keeps the id taken above from being reused
            self.labels += labels
        self.series += range(start, start + len(labels))
        self.times += [t_ms] * len(labels)
        self.values += values

    def decoded(self) -> DecodedWrite:
        series = np.asarray(self.series, dtype=np.int64)
        labels = self.labels
        first: dict[Labels, int] = {}
        remap = [first.setdefault(one, index) for index, one in enumerate(labels)]
        if len(first) < len(labels):  # the same series reached from two attribute sets
            kept = sorted(first.values())
            position = np.full(len(labels), -1, dtype=np.int64)
            position[kept] = np.arange(len(kept))
            series = position[np.asarray(remap, dtype=np.int64)][series]
            labels = [labels[index] for index in kept]
        times = np.asarray(self.times, dtype=np.int64)
        values = np.asarray(self.values, dtype=np.float64)
        order = np.lexsort((times, series))
        counts = np.bincount(series, minlength=len(labels)).astype(np.int64)
        return DecodedWrite(labels, counts, times[order], values[order])


_SeriesCache = dict[tuple[bytes, tuple[Any, ...]], tuple[Labels, ...]]


class Translator:
    """Requests → samples. Label sets are cached across requests, per metric family by the
    encoded attributes of a data point: an exporter sends the same attribute sets every
    interval, so a steady exporter's data point costs a dict lookup, not a translation."""

    def __init__(self, max_cached: int = 1 << 16) -> None:
        self._families: dict[tuple[Any, ...], _SeriesCache] = {}
        self._cached = 0
        self._max_cached = max_cached

    def translate(
        self, request: ExportMetricsServiceRequest, config: OTLPConfig, lookback_ms: int
    ) -> Translation:
        run = _Run(self, config, lookback_ms)
        for resource_metrics in request.resource_metrics:
            run.resource(resource_metrics)
        return Translation(run.samples.decoded(), dict(run.dropped), run.problems)

    def family(self, key: tuple[Any, ...]) -> _SeriesCache:
        """The label sets of one family under one resource, scope and strategy."""
        if self._cached >= self._max_cached:
            self._families.clear()
            self._cached = 0
        found = self._families.get(key)
        if found is None:
            found = self._families[key] = {}
        return found

    def grew(self) -> None:
        self._cached += 1


class _Run:
    """One request's translation under one config."""

    def __init__(self, translator: Translator, config: OTLPConfig, lookback_ms: int) -> None:
        self.translator = translator
        self.config = config
        self.strategy = config.translation_strategy
        self.target_info_step_ns = max(lookback_ms, 2) // 2 * 1_000_000
        self.samples = _Samples()
        self.dropped: Counter[str] = Counter()
        self.problems: list[str] = []
        self._label_names: dict[str, str] = {}

    # --- names ----------------------------------------------------------------------------

    def label(self, name: str) -> str:
        found = self._label_names.get(name)
        if found is None:
            found = self._label_names[name] = label_name(name, self.strategy)
        return found

    def attribute_labels(self, pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Attributes sorted by name, escaped; names that escape alike join their values
        with `;` in that order."""
        out: dict[str, str] = {}
        for key, value in sorted(pairs, key=_BY_KEY):
            name = self.label(key)
            out[name] = out[name] + ";" + value if name in out else value
        return out

    # --- the request's levels -------------------------------------------------------------

    def resource(self, resource_metrics: ResourceMetrics) -> None:
        attributes = {kv.key: as_string(kv.value) for kv in resource_metrics.resource.attributes}
        identity: list[tuple[str, str]] = []
        if "service.name" in attributes:
            job = attributes["service.name"]
            if "service.namespace" in attributes:
                job = f"{attributes['service.namespace']}/{job}"
            identity.append(("job", job))
        if "service.instance.id" in attributes:
            identity.append(("instance", attributes["service.instance.id"]))
        promoted = self._promoted(attributes)
        earliest, latest = math.inf, -math.inf
        for scope_metrics in resource_metrics.scope_metrics:
            context = _Context(promoted, (*self._scope_labels(scope_metrics), *identity))
            for metric in scope_metrics.metrics:
                first, last = self.metric(metric, context)
                earliest, latest = min(earliest, first), max(latest, last)
        if latest >= earliest:
            self._target_info(attributes, identity, int(earliest), int(latest))

    def _promoted(self, attributes: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        config = self.config
        if config.promote_all_resource_attributes:
            ignored = set(config.ignore_resource_attributes)
            chosen = [(k, v) for k, v in attributes.items() if k not in ignored]
        else:
            wanted = set(config.promote_resource_attributes)
            chosen = [(k, v) for k, v in attributes.items() if k in wanted]
        out: dict[str, str] = {}
        for key, value in sorted(chosen, key=_BY_KEY):
            name = self._resource_label(key)
            if name:
                out.setdefault(name, value)
        return tuple(out.items())

    def _resource_label(self, key: str) -> str:
        """A resource or scope attribute's label, "" (left out, said why) if it has none."""
        try:
            return self.label(key)
        except UntranslatableName as err:
            self.problems.append(f"resource attribute left out: {err}")
            return ""

    def _scope_labels(self, scope_metrics: ScopeMetrics) -> list[tuple[str, str]]:
        scope = scope_metrics.scope
        if not self.config.promote_scope_metadata or not scope.name:
            return []
        labels = [
            ("otel_scope_name", scope.name),
            ("otel_scope_version", scope.version),
            ("otel_scope_schema_url", scope_metrics.schema_url),
        ]
        for key, value in _pairs(scope.attributes):
            name = self._resource_label("otel_scope_" + key)
            if name:
                labels.append((name, value))
        return labels

    def metric(self, metric: Metric, context: _Context) -> tuple[float, float]:
        """Stores the metric's data points; returns the (earliest, latest) of their times."""
        data = metric.WhichOneof("data")
        if data is None:
            self._drop(NO_DATA, 0, f"metric {_quote(metric.name)} has no data of a known type")
            return math.inf, -math.inf
        body = getattr(metric, data)
        points = body.data_points
        times = [point.time_unix_nano for point in points]
        span = (min(times), max(times)) if times else (math.inf, -math.inf)
        if not points:
            self.problems.append(f"metric {_quote(metric.name)} has no data points")
            return span
        if data in ("sum", "histogram", "exponential_histogram") and (
            body.aggregation_temporality != CUMULATIVE
        ):
            self._drop(
                DELTA,
                len(points),
                f"metric {_quote(metric.name)}: delta temporality is not stored, as in "
                "Prometheus 3 (set the exporter's temporality preference to cumulative)",
            )
            return span
        if data == "exponential_histogram":
            self._drop(
                EXPONENTIAL,
                len(points),
                f"metric {_quote(metric.name)}: an exponential histogram, which Prometheus 3 "
                "stores as a native histogram; vigil does not store native histograms yet",
            )
            return span
        kind = _KINDS[data] if data != "sum" else _sum_kind(body.is_monotonic)
        try:
            family = metric_name(metric.name, metric.unit, kind, self.strategy)
        except UntranslatableName as err:
            self._drop(BAD_NAME, len(points), str(err))
            return span
        add = {
            "gauge": self._number,
            "sum": self._number,
            "histogram": self._histogram,
            "summary": self._summary,
        }[data]
        cache = self.translator.family((self.strategy, context, family))
        for point in points:
            try:
                add(family, point, context, cache)
            except UntranslatableName as err:
                self._drop(BAD_NAME, 1, f"metric {_quote(metric.name)}: {err}")
        return span

    def _drop(self, reason: str, points: int, problem: str) -> None:
        self.dropped[reason] += points
        self.problems.append(problem)

    # --- data points ----------------------------------------------------------------------

    def _build(
        self,
        context: _Context,
        pairs: tuple[tuple[str, str], ...],
        names: Sequence[tuple[str, ...]],
    ) -> tuple[Labels, ...]:
        """One label set per (name, extra label, value...) in `names`."""
        base = self.attribute_labels(pairs)
        for name, value in context.promoted:
            base.setdefault(name, value)
        base.update(context.forced)
        out = []
        for name, *extra in names:
            labels = {**base, **dict(zip(extra[::2], extra[1::2], strict=True))}
            labels["__name__"] = name
            out.append(Labels.from_dict({k: v for k, v in labels.items() if v}))
        return tuple(out)

    def _series(
        self,
        context: _Context,
        point: Any,
        cache: _SeriesCache,
        shape: tuple[Any, ...],
        names: Callable[[], Sequence[tuple[str, ...]]],
    ) -> tuple[Labels, ...]:
        """The label sets of a data point's series, cached by its encoded attributes and its
        `shape` (what else decides its series: bucket bounds, quantiles)."""
        attributes = point.attributes
        key = (b"".join([kv.SerializeToString() for kv in attributes]), shape)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._build(context, _pairs(attributes), names())
            self.translator.grew()
        return found

    def _number(self, family: str, point: Any, context: _Context, cache: _SeriesCache) -> None:
        labels = self._series(context, point, cache, (), lambda: ((family,),))
        if point.flags & NO_RECORDED_VALUE:
            value = STALE_NAN
        else:
            which = point.WhichOneof("value")
            value = float(getattr(point, which)) if which else 0.0
        self.samples.extend(labels, point.time_unix_nano // 1_000_000, (value,))

    def _histogram(self, family: str, point: Any, context: _Context, cache: _SeriesCache) -> None:
        counts = point.bucket_counts
        bounds = tuple(point.explicit_bounds[: len(counts)])
        has_sum = point.HasField("sum")

        def names() -> list[tuple[str, ...]]:
            return [
                *([(family + "_sum",)] if has_sum else []),
                (family + "_count",),
                *((family + "_bucket", "le", format_float(bound, "f")) for bound in bounds),
                (family + "_bucket", "le", "+Inf"),
            ]

        labels = self._series(context, point, cache, (has_sum, bounds), names)
        count = float(point.count)
        if point.flags & NO_RECORDED_VALUE:
            values: Iterable[float] = [STALE_NAN] * len(labels)
        else:
            values = [
                *((point.sum,) if has_sum else ()),
                count,
                *accumulate(counts[: len(bounds)]),
                count,
            ]
        self.samples.extend(labels, point.time_unix_nano // 1_000_000, values)

    def _summary(self, family: str, point: Any, context: _Context, cache: _SeriesCache) -> None:
        quantiles = point.quantile_values
        shape = tuple([q.quantile for q in quantiles])

        def names() -> list[tuple[str, ...]]:
            return [
                (family + "_sum",),
                (family + "_count",),
                *((family, "quantile", format_float(q, "f")) for q in shape),
            ]

        labels = self._series(context, point, cache, shape, names)
        if point.flags & NO_RECORDED_VALUE:
            values: Iterable[float] = [STALE_NAN] * len(labels)
        else:
            values = [point.sum, float(point.count), *(q.value for q in quantiles)]
        self.samples.extend(labels, point.time_unix_nano // 1_000_000, values)

    # --- target_info ----------------------------------------------------------------------

    def _target_info(
        self,
        attributes: Mapping[str, str],
        identity: Sequence[tuple[str, str]],
        earliest_ns: int,
        latest_ns: int,
    ) -> None:
        """`target_info{job, instance, <other resource attributes>} 1` from the resource's
        earliest to its latest point, every half lookback delta (so a query anywhere between
        finds it), when the resource has attributes besides the identifying ones."""
        if not set(attributes) - set(_IDENTIFYING):
            return
        kept = (
            attributes.items()
            if self.config.keep_identifying_resource_attributes
            else [(k, v) for k, v in attributes.items() if k not in _IDENTIFYING]
        )
        try:
            labels = self.attribute_labels(kept)
        except UntranslatableName as err:
            self.problems.append(f"target_info not stored: {err}")
            return
        labels.update(identity)
        labels["__name__"] = "target_info"
        labels = {k: v for k, v in labels.items() if v}
        if "job" not in labels and "instance" not in labels:
            return
        step = self.target_info_step_ns
        first = max(earliest_ns, latest_ns - step * (TARGET_INFO_MAX_SAMPLES - 1))
        times = list(range(first, latest_ns, step))
        times_ms = [t // 1_000_000 for t in times]
        if not times_ms or times_ms[-1] < latest_ns // 1_000_000:
            times_ms.append(latest_ns // 1_000_000)
        series = (Labels.from_dict(labels),)
        for t_ms in times_ms:
            self.samples.extend(series, t_ms, (1.0,))


_KINDS = {
    "gauge": MetricKind.GAUGE,
    "histogram": MetricKind.HISTOGRAM,
    "summary": MetricKind.SUMMARY,
}


def _sum_kind(monotonic: bool) -> MetricKind:
    return MetricKind.MONOTONIC_COUNTER if monotonic else MetricKind.NON_MONOTONIC_COUNTER


def as_string(value: AnyValue) -> str:
    """An attribute value as a label value, as the OpenTelemetry collector's `AsString` writes
    it: bools `true`/`false`, numbers as JSON writes them, bytes in base64, arrays and maps
    as JSON."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which is None:
        return ""
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "int_value":
        return str(value.int_value)
    if which == "double_value":
        return _json_float(value.double_value)
    return orjson.dumps(_raw(value)).decode()


def _json_float(x: float) -> str:
    if not math.isfinite(x):
        return f"json: unsupported value: {format_float(x)}"
    if x == 0 or 1e-6 <= abs(x) < 1e21:
        return format_float(x, "f")
    return _EXPONENT.sub(r"e\1\2", format_float(x, "e"))


def _raw(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_raw(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which is None:
        return None
    return getattr(value, which)


def _quote(name: str) -> str:
    return orjson.dumps(name).decode()


def _pairs(attributes: Iterable[KeyValue]) -> tuple[tuple[str, str], ...]:
    return tuple((kv.key, as_string(kv.value)) for kv in attributes)
