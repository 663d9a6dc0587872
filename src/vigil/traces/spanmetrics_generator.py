"""The metrics generator: span metrics, the service graph and slow SQL fed from every
stored batch; the series of the first two are written into the TSDB through the ordinary
`Appender` every `interval_s` (Tempo's `collection_interval`, 15 s), on the injected clock
like a rule group, and count against the head's series budget like any other.

`ObservingSpanAppender` is the `SpanAppender` the receivers hold: it stores a batch, then
shows it to the generator. A batch the store refuses with OSError (a full disk: the
exporter retries it) is not observed, so a retried export is counted once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.model.clock import Clock
from vigil.traces._api import AppendResult, SpanAppender, Spans
from vigil.traces.servicegraph import DEFAULT_MAX_ITEMS, DEFAULT_WAIT_S, ServiceGraph
from vigil.traces.slowsql import SlowSQL, SlowStatement
from vigil.traces.spanmetrics import SpanMetrics
from vigil.traces.spanmetrics_guards import GuardedSpans, SpanGuards
from vigil.traces.spanmetrics_series import Samples
from vigil.tsdb._api import Appender, StorageNotReady

log = logging.getLogger("vigil.traces.spanmetrics")

DEFAULT_INTERVAL_S = 15.0
_DEFAULT_GUARDS = SpanGuards()


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    guards: SpanGuards = _DEFAULT_GUARDS
    interval_s: float = DEFAULT_INTERVAL_S
    edge_wait_s: float = DEFAULT_WAIT_S
    edge_max_items: int = DEFAULT_MAX_ITEMS


class _SelfMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.excluded = Counter(
            "vigil_spanmetrics_spans_excluded_total",
            "Spans left out of span metrics, by reason (health_check).",
            ["reason"],
            registry=registry,
        )
        self.overflowed = Counter(
            "vigil_spanmetrics_span_names_overflowed_total",
            "Spans counted under span_name=__cardinality_overflow__: their service had "
            "reached --traces.spanmetrics.max-span-names distinct names.",
            registry=registry,
        )
        self.observed = Counter(
            "vigil_spanmetrics_spans_observed_total",
            "Spans shown to the metrics generator.",
            registry=registry,
        )
        self.series = Gauge(
            "vigil_spanmetrics_active_series",
            "Series the metrics generator keeps in memory and writes at each collection.",
            registry=registry,
        )


class MetricsGenerator:
    """Processors fed under one lock (receivers append from worker threads while the
    collection runs on the event loop)."""

    def __init__(
        self,
        appendable: Callable[[], Appender],
        clock: Clock,
        options: GeneratorOptions = GeneratorOptions(),
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._appendable = appendable
        self._clock = clock
        self.options = options
        self.span_metrics = SpanMetrics(options.guards)
        self.service_graph = ServiceGraph(options.edge_wait_s, options.edge_max_items)
        self.slow_sql = SlowSQL()
        self._lock = threading.Lock()
        self._metrics = _SelfMetrics(registry)

    def observe(self, spans: Spans) -> None:
        if not len(spans):
            return
        now = self._clock.now()
        t_ms = round(now * 1000)
        with self._lock:
            guarded = GuardedSpans.of(spans, self.options.guards)
            overflowed = self.span_metrics.observe(guarded, t_ms)
            self.service_graph.observe(guarded, now, t_ms)
            self.slow_sql.observe(guarded, t_ms)
        self._metrics.observed.inc(len(spans))
        if guarded.health_checks:
            self._metrics.excluded.labels("health_check").inc(guarded.health_checks)
        if overflowed:
            self._metrics.overflowed.inc(overflowed)

    def slow_statements(
        self, window_s: float, service: str | None = None, limit: int = 20
    ) -> list[SlowStatement]:
        with self._lock:
            now_ms = round(self._clock.now() * 1000)
            return self.slow_sql.slowest(now_ms, round(window_s * 1000), service, limit)

    def collect(self, t_ms: int | None = None) -> None:
        """Write every series at `t_ms` (now by default) in one appender commit. When the
        TSDB cannot take them (still opening, a full disk) the values stay counted and the
        next collection writes them; that collection's first zeros and staleness markers
        are lost."""
        now = self._clock.now() if t_ms is None else t_ms / 1000
        t_ms = round(now * 1000)
        interval_ms = round(self.options.interval_s * 1000)
        with self._lock:
            self.service_graph.expire(now, t_ms)
            samples = Samples()
            sets = (self.span_metrics.series, self.service_graph.series)
            for series in sets:
                samples.add_all(series.collect(t_ms, interval_ms))
            self._metrics.series.set(sum(series.series_count() for series in sets))
        try:
            appender = self._appendable()
        except StorageNotReady as err:
            log.debug("span metrics not stored: %s", err)
            return
        try:
            samples.write(appender)
            appender.commit()
        except OSError as err:
            appender.rollback()
            log.debug("span metrics not stored: %s", err)

    async def run(self) -> None:
        """Collect every interval, at instants aligned to it (the scheduled instant, even
        when woken late), off the event loop, for the life of the process."""
        interval = self.options.interval_s
        while True:
            now = self._clock.now()
            deadline = now - now % interval + interval
            await self._clock.sleep_until(deadline)
            try:
                await asyncio.to_thread(self.collect, round(deadline * 1000))
            except Exception:  # logged; the next interval writes the counts again
                log.exception("writing span metrics failed")


class ObservingSpanAppender:
    """Stores, then observes: the `SpanAppender` the server hands its receivers."""

    def __init__(self, store: SpanAppender, generator: MetricsGenerator) -> None:
        self._store = store
        self._generator = generator

    def append(self, spans: Spans) -> AppendResult:
        result = self._store.append(spans)
        self._generator.observe(spans)
        return result
