"""Jaeger's `/api/dependencies`: how often a service called another, counted as Jaeger's own
stores count it: each span whose parent (same trace) belongs to another service is one call
from the parent's service to its own. Joined with numpy: every span's (trace id, span id)
key is sorted once and each (trace id, parent id) key looked up in it; a span stored twice
(an exporter's retry) is one call."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.model.sorted_set import sorted_set
from vigil.traces import SpanQuerier, Spans
from vigil.traces.distinct import id_keys


@dataclass(frozen=True, slots=True)
class Dependency:
    parent: str
    child: str
    call_count: int


def _later_copies(
    order: npt.NDArray[np.intp], sorted_keys: npt.NDArray[np.void]
) -> npt.NDArray[np.bool_]:
    """True at each span stored again (an exporter's retry) after its first copy."""
    later = np.zeros(len(order), dtype=bool)
    later[order[1:][sorted_keys[1:] == sorted_keys[:-1]]] = True
    return later


def dependencies(querier: SpanQuerier) -> list[Dependency]:
    """Calls between distinct services among the spans in range, sorted by (parent, child)."""
    services: dict[str, int] = {}
    keys: list[npt.NDArray[np.void]] = []
    parents: list[npt.NDArray[np.void]] = []
    codes: list[npt.NDArray[np.int64]] = []
    has_parent: list[npt.NDArray[np.bool_]] = []
    for batch in querier.select():
        keys.append(id_keys(batch.trace_ids, batch.span_ids))
        parents.append(id_keys(batch.trace_ids, batch.parent_ids))
        codes.append(_service_codes(batch, services)[batch.service])
        has_parent.append(batch.parent_id_words() != 0)
    if not keys:
        return []
    key = np.concatenate(keys)
    parent = np.concatenate(parents)
    service = np.concatenate(codes)
    child_rows = np.flatnonzero(np.concatenate(has_parent))
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    child_rows = child_rows[~_later_copies(order, sorted_keys)[child_rows]]
    at = np.searchsorted(sorted_keys, parent[child_rows])
    inside = at < len(sorted_keys)
    child_rows, at = child_rows[inside], at[inside]
    joined = sorted_keys[at] == parent[child_rows]
    child_rows, at = child_rows[joined], at[joined]
    caller = service[order[at]]
    callee = service[child_rows]
    crossing = caller != callee
    width = max(len(services), 1)
    pairs, counts = np.unique(caller[crossing] * width + callee[crossing], return_counts=True)
    names = list(services)
    found = [
        Dependency(names[p // width], names[p % width], c)
        for p, c in zip(pairs.tolist(), counts.tolist(), strict=True)
    ]
    return sorted(found, key=lambda d: (d.parent, d.child))


def _service_codes(batch: Spans, services: dict[str, int]) -> npt.NDArray[np.int64]:
    """The batch's string codes mapped onto one code per service name across batches."""
    table = np.full(len(batch.strings), -1, dtype=np.int64)
    for code in sorted_set(batch.service).tolist():
        table[code] = services.setdefault(batch.strings[code], len(services))
    return table
