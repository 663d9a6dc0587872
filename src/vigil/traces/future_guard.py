"""Spans from a client whose clock runs ahead are refused before they are stored: a span
starting further than `max_future_ns` past the server's clock is counted in
`vigil_traces_discarded_spans_total{reason="too_far_in_future"}` (Tempo's
`tempo_discarded_spans_total`) and told to the exporter in OTLP's `partial_success`, as the
TSDB refuses samples beyond --storage.tsdb.max-future. Left in, one such span would stretch
its trace's extent, land in a block of its own far ahead and skew span metrics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from prometheus_client import CollectorRegistry, Counter

from vigil.traces._api import AppendResult, SpanAppender, Spans

TOO_FAR_IN_FUTURE = "too_far_in_future"
DEFAULT_MAX_FUTURE_NS = 10 * 60 * 10**9


class FutureSpanGuard:
    """A `SpanAppender` in front of another; `max_future_ns=0` turns the bound off."""

    def __init__(
        self,
        inner: SpanAppender,
        clock: Callable[[], float],
        max_future_ns: int = DEFAULT_MAX_FUTURE_NS,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._max_future_ns = max_future_ns
        self._discarded = Counter(
            "vigil_traces_discarded_spans",
            "Spans received but not stored, by reason (too_far_in_future: starting beyond "
            "now + --traces.max-future).",
            ["reason"],
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self._discarded.labels(TOO_FAR_IN_FUTURE)

    def append(self, spans: Spans) -> AppendResult:
        if not self._max_future_ns or not len(spans):
            return self._inner.append(spans)
        limit = int(self._clock() * 10**9) + self._max_future_ns
        ahead = spans.start_ns > limit
        refused = int(np.count_nonzero(ahead))
        if not refused:
            return self._inner.append(spans)
        self._discarded.labels(TOO_FAR_IN_FUTURE).inc(refused)
        first = int(spans.start_ns[ahead].min())
        seconds = (first - limit + self._max_future_ns) / 1e9
        message = (
            f"refused {refused} spans starting too far in the future (the first {seconds:.0f}s "
            f"ahead of the server's clock, more than --traces.max-future="
            f"{self._max_future_ns / 1e9:.0f}s: is the sender's clock right?)"
        )
        kept = np.flatnonzero(~ahead)
        result = self._inner.append(spans.take(kept)) if len(kept) else AppendResult(0)
        return AppendResult(
            result.accepted,
            result.rejected + refused,
            "; ".join(m for m in (message, result.message) if m),
        )
