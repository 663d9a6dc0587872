"""Span metrics: Tempo metrics-generator's RED series from spans, so Grafana's Tempo APM
table and any dashboard written for Tempo read vigil's Prometheus API unchanged.

- `traces_spanmetrics_calls_total`: spans, each counted `multiplier` times (sampling);
- `traces_spanmetrics_latency_bucket|sum|count`: span durations in seconds, Tempo's
  default buckets (2 ms doubling to 16.384 s);
- `traces_spanmetrics_size_total`: bytes of spans, an estimate of their OTLP protobuf size
  (ids, times, name and the text of their attributes, events and links; not multiplied).

Labels `service`, `span_name`, `span_kind` (`SPAN_KIND_SERVER`, …) and `status_code`
(`STATUS_CODE_UNSET|OK|ERROR`), as Tempo writes them. Health checks are left out and span
names bounded per service (see spanmetrics_guards).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vigil.model.sorted_set import sorted_set
from vigil.traces.spanmetrics_guards import OVERFLOW, GuardedSpans, NameCap, SpanGuards
from vigil.traces.spanmetrics_series import (
    GeneratedCounter,
    GeneratedHistogram,
    LabelValues,
    SeriesSet,
)

CALLS = "traces_spanmetrics_calls_total"
LATENCY = "traces_spanmetrics_latency"
SIZE = "traces_spanmetrics_size_total"
LABEL_NAMES = ("service", "span_name", "span_kind", "status_code")
LATENCY_BUCKETS = tuple(0.002 * 2**i for i in range(14))
KIND_LABELS = (
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
)
STATUS_LABELS = ("STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR")
_FIXED_SPAN_BYTES = 60  # trace, span and parent ids, two fixed64 times, kind, status, tags


class SpanMetrics:
    """The span-metrics processor: `observe` a batch, `series` written at each collection."""

    def __init__(self, guards: SpanGuards, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.calls = GeneratedCounter(CALLS, LABEL_NAMES)
        self.latency = GeneratedHistogram(LATENCY, LABEL_NAMES, buckets)
        self.size = GeneratedCounter(SIZE, LABEL_NAMES)
        self.series = SeriesSet((self.calls, self.latency, self.size))
        self.names = NameCap(guards)

    def observe(self, guarded: GuardedSpans, t_ms: int) -> int:
        """Count the batch's spans that are not health checks; returns how many went to the
        overflow span name."""
        spans = guarded.spans
        picked = np.flatnonzero(guarded.counted)
        if not len(picked):
            return 0
        width = len(guarded.strings)
        combined = (
            (spans.service[picked].astype(np.int64) * width + guarded.name_codes[picked]) * 8
            + spans.kind[picked]
        ) * 4 + spans.status_code[picked]
        unique, inverse = np.unique(combined, return_inverse=True)
        inverse = inverse.ravel()
        pairs, statuses = np.divmod(unique, 4)
        pairs, kinds = np.divmod(pairs, 8)
        services, names = np.divmod(pairs, width)
        names_list, kinds_list, statuses_list = names.tolist(), kinds.tolist(), statuses.tolist()
        strings = guarded.strings
        keys: dict[LabelValues, int] = {}
        remap = np.empty(len(unique), dtype=np.intp)
        overflowed = np.zeros(len(unique), dtype=bool)
        for service in sorted_set(services).tolist():
            at = np.flatnonzero(services == service)
            label, kept = self.names.admit(
                strings[service], [strings[n] for n in names[at].tolist()]
            )
            for u in at[kept].tolist():
                key = (
                    label,
                    strings[names_list[u]],
                    _KINDS[kinds_list[u]],
                    _STATUSES[statuses_list[u]],
                )
                remap[u] = keys.setdefault(key, len(keys))
            over = at[~kept]
            if len(over):
                overflowed[over] = True
                codes, which = np.unique(kinds[over] * 4 + statuses[over], return_inverse=True)
                rows_of = [
                    keys.setdefault((label, OVERFLOW, _KINDS[c // 4], _STATUSES[c % 4]), len(keys))
                    for c in codes.tolist()
                ]
                remap[over] = np.asarray(rows_of, dtype=np.intp)[which.ravel()]
        rows = remap[inverse]
        key_list = list(keys)
        weights = guarded.multiplier[picked]
        self.calls.add(key_list, rows, weights, t_ms)
        seconds = spans.duration_ns[picked] / 1e9
        self.latency.observe(key_list, rows, seconds, weights, t_ms)
        self.size.add(key_list, rows, _sizes(guarded, picked), t_ms)
        return int(overflowed[inverse].sum())


def _labels(names: tuple[str, ...], size: int) -> tuple[str, ...]:
    return tuple(names[i] if i < len(names) else str(i) for i in range(size))


_KINDS = _labels(KIND_LABELS, 8)
_STATUSES = _labels(STATUS_LABELS, 4)


def _text_lengths(values: tuple[tuple[object, ...], ...]) -> npt.NDArray[np.float64]:
    """The length of the text of each span's events or links (0 for none)."""
    lengths = np.zeros(len(values), dtype=np.float64)
    for i in np.flatnonzero(np.fromiter(map(len, values), dtype=bool, count=len(values))):
        lengths[i] = len(repr(values[i])) - 2
    return lengths


def _sizes(guarded: GuardedSpans, picked: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    spans = guarded.spans
    name_lengths = np.fromiter(map(len, spans.strings), dtype=np.float64, count=len(spans.strings))
    text = guarded.columns.sizes() + _text_lengths(spans.events) + _text_lengths(spans.links)
    sizes: npt.NDArray[np.float64] = (
        text[picked] + name_lengths[spans.name[picked]] + _FIXED_SPAN_BYTES
    )
    return sizes
