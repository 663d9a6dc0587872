"""Column work the span store does on `Spans`: joining batches (tables merged, codes
remapped with numpy), and the summary a page keeps for readers (time range, trace ids,
the (service, name, kind) triples with their longest duration) so that queries skip pages
and blocks without decoding them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from vigil.traces._api import STATUS_ERROR, Spans

T = TypeVar("T")

NameKey = tuple[str, str, int]
"""(service, span name, kind)."""


def _merged(table: dict[T, int], values: Sequence[T]) -> npt.NDArray[np.int32]:
    return np.fromiter(
        (table.setdefault(v, len(table)) for v in values), dtype=np.int32, count=len(values)
    )


def concat(batches: Sequence[Spans]) -> Spans:
    """One column of all batches' spans, in order (tables merged; no Python step per span
    but for joining the per-span tuples)."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return Spans.empty()
    if len(batches) == 1:
        return batches[0]
    strings: dict[str, int] = {}
    resources: dict[Any, int] = {}
    scopes: dict[Any, int] = {}
    coded: dict[str, list[npt.NDArray[np.int32]]] = {
        k: [] for k in ("service", "name", "status_message", "trace_state", "resource", "scope")
    }
    for batch in batches:
        s = _merged(strings, batch.strings)
        r = _merged(resources, batch.resources)
        c = _merged(scopes, batch.scopes)
        coded["service"].append(s[batch.service])
        coded["name"].append(s[batch.name])
        coded["status_message"].append(s[batch.status_message])
        coded["trace_state"].append(s[batch.trace_state])
        coded["resource"].append(r[batch.resource])
        coded["scope"].append(c[batch.scope])
    return Spans(
        trace_ids=b"".join(b.trace_ids for b in batches),
        span_ids=b"".join(b.span_ids for b in batches),
        parent_ids=b"".join(b.parent_ids for b in batches),
        start_ns=np.concatenate([b.start_ns for b in batches]),
        duration_ns=np.concatenate([b.duration_ns for b in batches]),
        kind=np.concatenate([b.kind for b in batches]),
        status_code=np.concatenate([b.status_code for b in batches]),
        strings=tuple(strings),
        resources=tuple(resources),
        scopes=tuple(scopes),
        attributes=tuple(chain.from_iterable(b.attributes for b in batches)),
        events=tuple(chain.from_iterable(b.events for b in batches)),
        links=tuple(chain.from_iterable(b.links for b in batches)),
        **{k: np.concatenate(v) for k, v in coded.items()},
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """What a reader learns of spans without their attributes: `names` maps each
    (service, name, kind) to its longest duration and whether one of them failed."""

    spans: int
    mint: int
    maxt: int
    trace_ids: npt.NDArray[Any]  # sorted unique, S16
    names: dict[NameKey, tuple[int, bool]]

    def wanted(
        self,
        services: Sequence[str],
        names: Sequence[str],
        min_duration: int | None,
        error_only: bool,
    ) -> bool:
        """Whether any span may pass the hints' service, name, duration and error filters."""
        for (service, name, _), (longest, failed) in self.names.items():
            if services and service not in services:
                continue
            if names and name not in names:
                continue
            if min_duration is not None and longest < min_duration:
                continue
            if error_only and not failed:
                continue
            return True
        return False


def summarize(spans: Spans) -> Summary:
    n = len(spans)
    if not n:
        return Summary(0, 0, -1, np.zeros(0, dtype="S16"), {})
    keys = np.stack(
        [spans.service.astype(np.int64), spans.name.astype(np.int64), spans.kind.astype(np.int64)]
    )
    triples, inverse = np.unique(keys, axis=1, return_inverse=True)
    inverse = inverse.reshape(-1)
    longest = np.full(triples.shape[1], np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(longest, inverse, spans.duration_ns)
    failed = np.zeros(triples.shape[1], dtype=bool)
    failed[inverse[spans.status_code == STATUS_ERROR]] = True
    table = spans.strings
    names = {
        (table[s], table[m], k): (d, f)
        for (s, m, k), d, f in zip(
            triples.T.tolist(), longest.tolist(), failed.tolist(), strict=True
        )
    }
    return Summary(
        n,
        int(spans.start_ns.min()),
        int(spans.start_ns.max()),
        np.unique(np.frombuffer(spans.trace_ids, dtype="S16")),
        names,
    )
